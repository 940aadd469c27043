"""The migrated-database fixtures: every test starts at the head revision with no rows, whatever the last one left."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from bot.catalog import load_catalog
from bot.incident import incidents
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import current_revision, head_revision
from tests.databases import PostgresSchema, SqliteTemplate

T0 = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)


async def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the models."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {t.name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                    for t in SQLModel.metadata.sorted_tables}
    finally:
        await engine.dispose()


async def declare(url: str) -> int:
    """Record one incident (with its chain entries); its id."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            decl = incidents.validate_declaration(load_catalog(), title="Leftover", severity=2, category="data-drift")
            incident = await incidents.create(s, team_id="T1", decl=decl, declared_by="U1", declared_in="C0",
                                              channel_id="C1", channel_name="inc-leftover", now=T0)
            assert incident.id is not None
            return incident.id
    finally:
        await engine.dispose()


async def test_each_database_is_migrated_empty_and_the_next_one_sees_no_rows_of_this_one(
        database_url: str, tmp_path: Path, sqlite_template: SqliteTemplate,
        postgres_schema: PostgresSchema | None) -> None:
    """Head revision, no rows; what this test writes is gone for the next one, whose ids start at 1 again."""
    assert await current_revision(database_url) == head_revision()
    assert set((await row_counts(database_url)).values()) == {0}
    assert await declare(database_url) == 1
    assert (await row_counts(database_url))["timeline_entry"] > 0
    if is_sqlite(database_url):  # what the next test gets: another copy of the template
        following = await sqlite_template.copy_to(tmp_path / "next.db")
    else:
        assert postgres_schema is not None
        await postgres_schema.reset()
        following = postgres_schema.url
    assert set((await row_counts(following)).values()) == {0}
    assert await declare(following) == 1, "ids start afresh, as on a new database"


@pytest.mark.postgres
async def test_a_schema_a_test_changed_is_migrated_again(postgres_database_url: str,
                                                         postgres_schema: PostgresSchema | None) -> None:
    """A dropped table is noticed before the next test and the schema is built again."""
    assert postgres_schema is not None
    engine = create_engine(postgres_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE reminder"))
    finally:
        await engine.dispose()
    await postgres_schema.reset()
    counts = await row_counts(postgres_database_url)
    assert counts["reminder"] == 0 and set(counts.values()) == {0}
    assert await current_revision(postgres_database_url) == head_revision()


@pytest.mark.postgres
async def test_a_blank_database_has_no_schema_and_the_next_test_gets_it_back(
        blank_postgres_url: str, postgres_schema: PostgresSchema | None) -> None:
    """The blank fixture really has no schema, and the reset after it migrates again."""
    assert postgres_schema is not None
    assert await current_revision(blank_postgres_url) is None
    await postgres_schema.reset()
    assert await current_revision(blank_postgres_url) == head_revision()
    assert set((await row_counts(blank_postgres_url)).values()) == {0}
