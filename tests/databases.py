"""Migrated databases for tests: a SQLite file migrated once and copied per test, a PostgreSQL schema emptied per test.

Alembic (storage.migrate) builds the schema once per session on each backend. A SQLite test then gets a byte copy of
the migrated file; a PostgreSQL test gets the same database with every row deleted and every sequence restarted (one
round trip, cheaper than TRUNCATE or a CREATE DATABASE from a template), unless a test left the schema changed
(dropped, half-migrated), in which case it is dropped and migrated again.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables' foreign keys order the deletes)
from storage.db import create_engine, is_sqlite
from storage.migrate import head_revision, upgrade, upgrade_async

TABLES = text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
SEQUENCES = text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
REVISION = text("SELECT version_num FROM alembic_version")
# A test still holding a lock (a process it failed to stop) makes the reset fail with a message instead of hanging.
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '20s';"


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def sqlite_file(url: str) -> Path:
    """The file behind a SQLite URL."""
    database = make_url(url).database
    assert database and is_sqlite(url), url
    return Path(database)


async def wipe(url: str) -> None:
    """Drop everything in a PostgreSQL database's public schema (SQLite files are simply new each time)."""
    if is_sqlite(url):
        return
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


class SqliteTemplate:
    """A SQLite file migrated on first use; every test gets its own copy of it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "template.db"
        self.ready = False

    def build(self) -> None:
        """Migrate the template and fold its write-ahead log into the file, so that one file is the whole database."""
        upgrade(sqlite_url(self.path))
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.ready = True

    async def copy_to(self, path: Path) -> str:
        """A migrated, empty database at `path`; returns its URL."""
        if not self.ready:
            await asyncio.to_thread(self.build)  # Alembic runs its own event loop
        shutil.copyfile(self.path, path)
        return sqlite_url(path)


class PostgresSchema:
    """The test database's public schema: migrated once, then emptied before each test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.head = head_revision()
        self.tables: frozenset[str] | None = None  # what a fresh migration leaves, once known
        self.emptying = ""  # one script: delete every row (children first), restart every sequence

    async def reset(self) -> None:
        """Leave the schema at the head revision with no rows and fresh ids, so that no test sees another's."""
        engine = create_engine(self.url)
        try:
            async with engine.begin() as conn:
                if await self._intact(conn):
                    raw = (await conn.get_raw_connection()).driver_connection
                    assert raw is not None
                    await raw.execute(self.emptying)  # several statements, one round trip
                    return
        finally:
            await engine.dispose()
        await self.rebuild()

    async def rebuild(self) -> None:
        """Drop the schema and migrate it again."""
        await wipe(self.url)
        await upgrade_async(self.url)
        engine = create_engine(self.url)
        try:
            async with engine.connect() as conn:
                self.tables = frozenset((await conn.execute(TABLES)).scalars())
                sequences = sorted((await conn.execute(SEQUENCES)).scalars())
        finally:
            await engine.dispose()
        known = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in self.tables]
        others = sorted(self.tables - set(known) - {"alembic_version"})
        self.emptying = "".join([LOCK_TIMEOUT, *(f'DELETE FROM "{t}";' for t in [*others, *known]),
                                 *(f'ALTER SEQUENCE "{q}" RESTART;' for q in sequences)])

    async def _intact(self, conn: AsyncConnection) -> bool:
        if self.tables is None:
            return False
        if frozenset((await conn.execute(TABLES)).scalars()) != self.tables:
            return False
        return (await conn.execute(REVISION)).scalar_one_or_none() == self.head
