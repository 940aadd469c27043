"""Core access to our tables: the Table behind a model, and each dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The Core Table of a SQLModel table class (SQLModel declares it without a type)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def conflict_insert(dialect: str, table: Table) -> Any:
    """INSERT into `table` with `on_conflict_do_nothing` / `on_conflict_do_update`, for PostgreSQL or SQLite (the
    two dialects Retro runs on share this API but not a class)."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
