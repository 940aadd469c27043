"""Shared fixtures: migrated databases on every backend, and a controllable clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.databases import PostgresSchema, SqliteTemplate, wipe

PG_ENV = "RETRO_TEST_DATABASE_URL"
PG_SKIP = (f"PostgreSQL variant skipped: set {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) "
           "to run it; CI sets it")


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward (timedelta keywords); returns the new time."""
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """One SQLite file per session, migrated on first use; tests get copies."""
    return SqliteTemplate(tmp_path_factory.mktemp("migrated"))


@pytest.fixture(scope="session")
def postgres_schema() -> PostgresSchema | None:
    """The configured PostgreSQL test database (None when there is none), migrated on first use."""
    url = os.environ.get(PG_ENV)
    return PostgresSchema(url) if url else None


async def _postgres(schema: PostgresSchema | None) -> str:
    if schema is None:
        pytest.skip(PG_SKIP)
    await schema.reset()
    return schema.url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SqliteTemplate,
                       postgres_schema: PostgresSchema | None) -> str:
    """A migrated, empty database: each scenario runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return await sqlite_template.copy_to(tmp_path / "retro.db")
    return await _postgres(postgres_schema)


@pytest.fixture
async def sqlite_database_url(tmp_path: Path, sqlite_template: SqliteTemplate) -> str:
    """A migrated, empty SQLite database at tmp_path/retro.db, for scenarios that run on SQLite only."""
    return await sqlite_template.copy_to(tmp_path / "retro.db")


@pytest.fixture
async def postgres_database_url(postgres_schema: PostgresSchema | None) -> str:
    """A migrated, empty PostgreSQL database, for scenarios that need one (skipped when none is configured)."""
    return await _postgres(postgres_schema)


@pytest.fixture
async def blank_postgres_url(postgres_schema: PostgresSchema | None) -> str:
    """The PostgreSQL test database with nothing in it, not even the schema's tables (for migrating it)."""
    if postgres_schema is None:
        pytest.skip(PG_SKIP)
    await wipe(postgres_schema.url)
    return postgres_schema.url


@pytest.fixture
def clock() -> FakeClock:
    """A fresh controllable clock."""
    return FakeClock()
