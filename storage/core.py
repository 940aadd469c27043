"""Core access to our tables: the Table behind a model, each dialect's INSERT … ON CONFLICT, and handing leased
rows back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def table_of(model: type[SQLModel]) -> Table:
    """The Core Table of a SQLModel table class (SQLModel declares it without a type)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def conflict_insert(dialect: str, table: Table) -> Any:
    """INSERT into `table` with `on_conflict_do_nothing` / `on_conflict_do_update`, for PostgreSQL or SQLite (the
    two dialects Retro runs on share this API but not a class)."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


async def release_claims(session: AsyncSession, table: Table, *, worker: str, ids: Sequence[int] | None,
                         pending: str, claimed: str) -> int:
    """Hand a worker's claimed rows of a leased-work table (status, claimed_by, claim_expires_at) back untouched;
    commits and returns how many."""
    c = table.c
    stmt = (update(table).where(c.status == claimed, c.claimed_by == worker)
            .values(status=pending, claimed_by=None, claim_expires_at=None))
    if ids is not None:
        stmt = stmt.where(c.id.in_(tuple(ids)))
    result: Any = await session.exec(stmt)
    await session.commit()
    return int(result.rowcount or 0)


def claimable_batch(session: AsyncSession, pick: Select[Any], id_column: Any) -> ColumnElement[bool]:
    """The WHERE clause that targets the rows whose ids `pick` selects (with its ORDER BY and LIMIT), for an UPDATE
    that claims them. On PostgreSQL the batch is locked once, skipping rows another worker holds: a materialized CTE,
    because `id IN (subquery … LIMIT … SKIP LOCKED)` may be rescanned by a semi-join and claim more rows than the
    limit. Elsewhere (SQLite: one writer) the subquery as it is."""
    if session.get_bind().dialect.name == "postgresql":
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        return id_column == picked.c.id  # type: ignore[no-any-return]
    return id_column.in_(pick.scalar_subquery())  # type: ignore[no-any-return]
