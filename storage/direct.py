"""Core statements run straight on the driver connection, for the write path that must keep up with Slack.

The statements are still SQLAlchemy Core objects, compiled once per dialect: the SQL text, the parameter order
and every value's conversion (the column types' own bind and result processors) come from SQLAlchemy, so rows
written here are stored exactly as the ORM stores them. What is skipped is the per-execution machinery (execution
context, result objects, and on SQLite three or four thread hand-offs per statement), which costs far more than
the database work when a batch of events is recorded.

`Statements` is the small interface the chain and the ingest writer need; `SessionStatements` gives it over an
ORM session (everything else in Retro), `DirectWriter` over a connection kept for one writer task.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol, cast

from asyncpg.exceptions import DataError as PgDataError  # type: ignore[import-untyped]
from asyncpg.exceptions import IntegrityConstraintViolationError, PostgresError
from asyncpg.exceptions import InterfaceError as PgInterfaceError
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlmodel.ext.asyncio.session import AsyncSession

Row = tuple[Any, ...]
Params = Mapping[str, Any]


class Statements(Protocol):
    """Run Core statements inside the caller's transaction."""

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""

    async def rows(self, stmt: Executable, params: Params) -> Sequence[Row]:
        """Execute once and return every row (empty for statements without RETURNING)."""

    async def run_many(self, stmt: Executable, rows: Sequence[Params]) -> None:
        """Execute once per parameter set (all sets have the same keys)."""


class SessionStatements:
    """`Statements` on an ORM session's connection (the session's transaction; the caller commits)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        """The session's database dialect."""
        bind = self.session.bind
        assert bind is not None
        return bind.dialect.name

    async def rows(self, stmt: Executable, params: Params) -> Sequence[Row]:
        """Execute on the session's connection."""
        result = await (await self.session.connection()).execute(stmt, dict(params))
        return [tuple(r) for r in result.all()] if result.returns_rows else []

    async def run_many(self, stmt: Executable, rows: Sequence[Params]) -> None:
        """executemany on the session's connection."""
        if rows:
            await (await self.session.connection()).execute(stmt, [dict(r) for r in rows])


Processor = Callable[[Any], Any] | None


class Prepared:
    """One statement compiled for one dialect: SQL text, parameter order, value conversions both ways."""

    def __init__(self, stmt: Executable, dialect: Dialect, keys: Sequence[str] | None) -> None:
        columns = list(keys) if keys is not None else None
        compiled = cast(SQLCompiler, cast(ClauseElement, stmt).compile(dialect=dialect, column_keys=columns,
                                                                       for_executemany=keys is not None))
        if compiled.positiontup is None:
            raise ValueError(f"dialect {dialect.name} does not use positional parameters")
        self.sql = compiled.string
        self.names = list(compiled.positiontup)
        # Values fixed in the statement itself (literals, LIMIT); every other parameter must be given.
        self.preset = {n: compiled.binds[n].effective_value for n in self.names if not compiled.binds[n].required}
        self.binds: list[Processor] = [compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect)
                                       for n in self.names]
        self.results: list[Processor] = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                                         for c in getattr(stmt, "exported_columns", ())]

    def params(self, values: Params) -> list[Any]:
        """Positional driver parameters for one parameter set."""
        out = []
        for name, process in zip(self.names, self.binds, strict=True):
            if name in values:
                value = values[name]
            elif name in self.preset:
                value = self.preset[name]
            else:
                raise KeyError(f"a value is required for parameter {name!r}")
            out.append(value if process is None else process(value))  # processors handle None (JSON: 'null')
        return out

    def row(self, raw: Sequence[Any]) -> Row:
        """One driver row converted to Python values."""
        if not self.results:
            return tuple(raw)
        return tuple(v if p is None else p(v) for v, p in zip(raw, self.results, strict=True))


_INTEGRITY = (sqlite3.IntegrityError, IntegrityConstraintViolationError)
# A value the database will not take (PostgreSQL: text holding NUL, a string that is not UTF-8, a number out of range),
# refused the same way however often it is sent.
_DATA = (sqlite3.DataError, PgDataError)


def _wrapped(exc: Exception, sql: str) -> Exception:
    """The driver's error as the SQLAlchemy exception the rest of Retro handles (no parameters: they hold text).

    IntegrityError and DataError say the database refused what it was given; everything else is an
    OperationalError: the database could not be reached or could not do it now.
    """
    kind: type[DBAPIError] = (IntegrityError if isinstance(exc, _INTEGRITY) else DataError if isinstance(exc, _DATA)
                              else OperationalError)
    return kind(sql, None, exc)


def is_refusal(exc: BaseException) -> bool:
    """Whether a failure is about what was written, not about the database: it refused a value or a constraint
    (DataError, IntegrityError), or the value failed in Python before it was sent (text with no UTF-8 form). The
    same write fails the same way again, and the connection still works. The network, the pool, the driver and
    the server's other errors are not refusals."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, Exception) and not isinstance(exc, OSError | SQLAlchemyError | sqlite3.Error
                                                          | PostgresError | PgInterfaceError)


class DriverStatements:
    """`Statements` on the raw aiosqlite or asyncpg connection, inside a transaction `DirectWriter` opened."""

    def __init__(self, driver: Any, dialect: Dialect, cache: dict[tuple[Any, ...], Prepared]) -> None:
        self.driver = driver
        self._dialect = dialect
        self.sqlite = dialect.name == "sqlite"
        self._cache = cache

    @property
    def dialect(self) -> str:
        """The connection's database dialect."""
        return self._dialect.name

    def _prepared(self, stmt: Executable, keys: Sequence[str] | None) -> Prepared:
        key = (stmt, None if keys is None else tuple(keys))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = Prepared(stmt, self._dialect, keys)
        return found

    async def rows(self, stmt: Executable, params: Params) -> Sequence[Row]:
        """Execute once; one driver call."""
        p = self._prepared(stmt, None)
        args = p.params(params)  # a bad value raises here as itself, not as a database failure
        try:
            if self.sqlite:
                raw = await self.driver.execute_fetchall(p.sql, args)
            else:
                raw = await self.driver.fetch(p.sql, *args)
        except Exception as exc:
            raise _wrapped(exc, p.sql) from exc
        return [p.row(r) for r in raw]

    async def run_many(self, stmt: Executable, rows: Sequence[Params]) -> None:
        """executemany; one driver call."""
        if not rows:
            return
        p = self._prepared(stmt, list(rows[0]))
        args = [p.params(r) for r in rows]
        try:
            await self.driver.executemany(p.sql, args)
        except Exception as exc:
            raise _wrapped(exc, p.sql) from exc


async def _driver_call(call: Callable[[], Awaitable[Any]], sql: str) -> None:
    try:
        await call()
    except Exception as exc:
        raise _wrapped(exc, sql) from exc


class DirectWriter:
    """A connection held by one writer task; each `transaction()` commits on success and rolls back on error.

    The writer keeps the connection while it has work and gives it back when idle (`release`). After a failure
    the connection is thrown away (it may be broken: a restarted server, a killed backend) and the next
    transaction checks out a fresh one from the engine's pool, which pings it first on PostgreSQL; only when the
    database refused a value (`is_refusal`) and the rollback went through is the connection kept.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._cache: dict[tuple[Any, ...], Prepared] = {}

    async def _connect(self) -> Any:
        if self._conn is None:
            conn = await self.engine.connect()
            try:
                self._driver = (await conn.get_raw_connection()).driver_connection
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._driver

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """One transaction on the held connection (SQLite opens it implicitly at the first write)."""
        driver = await self._connect()
        sqlite = self.engine.dialect.name == "sqlite"
        rollback: Callable[[], Awaitable[Any]] | None = driver.rollback if sqlite else None
        try:
            if sqlite:
                commit = driver.commit
            else:
                tx = driver.transaction()
                commit, rollback = tx.commit, tx.rollback
                await _driver_call(tx.start, "BEGIN")
            yield DriverStatements(driver, self.engine.dialect, self._cache)
            await _driver_call(commit, "COMMIT")
        except BaseException as exc:
            rolled_back = False
            if rollback is not None:
                with suppress(Exception):
                    await rollback()
                    rolled_back = True
            if not (rolled_back and is_refusal(exc)):
                await self.release(invalidate=True)
            raise

    async def release(self, *, invalidate: bool = False) -> None:
        """Give the connection back (or throw it away)."""
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        with suppress(Exception):
            if invalidate:
                await conn.invalidate()
            await conn.close()
