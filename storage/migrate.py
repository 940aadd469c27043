"""Alembic, driven from code: the only way the schema is created or changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply pending migrations (synchronous; runs its own event loop in env.py)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision shipped with this version."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _read_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def database_revision(engine: AsyncEngine) -> str | None:
    """The revision an open engine's database is at."""
    async with engine.connect() as conn:
        return await conn.run_sync(_read_revision)


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it has no schema yet."""
    engine = create_engine(url)
    try:
        return await database_revision(engine)
    finally:
        await engine.dispose()


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Apply migrations from inside a running event loop."""
    await asyncio.to_thread(upgrade, url, revision)
