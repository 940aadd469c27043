"""Files whose digest is owed to an incident's chain, as rows: written with the message that shared them, done when
their `file_hashed` entry is chained.

The ingest writer adds one `pending` row per file in the transaction that records the message, so a message acked
to Slack always leaves its files behind as work. The listener that runs right after the ack hashes them without a
claim; the scheduler's pass claims what is left (everything at a process's start, otherwise rows past `GRACE`, or
claims whose lease expired) the way reminders are claimed. Whoever chains the entry first wins: `finish` turns the
row `done` in the chain's own transaction only while the row is still as that worker left it, so a file is chained
exactly once however many processes downloaded it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Executable
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.record.timeline import Happening, Posted
from storage.core import claimable_batch, conflict_insert, release_claims, table_of
from storage.direct import Statements
from storage.models import PendingFileHash

PENDING, CLAIMED, DONE = "pending", "claimed", "done"
# How long the listener has before the periodic pass may take a row over (a process's first pass does not wait).
GRACE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
_FILE_ID = re.compile(r"F[A-Z0-9]{2,31}")
_SHORT = 32  # the width of the id columns: a forged longer value must not fail the event's transaction

_T = table_of(PendingFileHash)
_inserts: dict[str, Executable] = {}


def rows_for(team_id: str, incident_id: int, what: Happening | None, now: datetime) -> list[dict[str, Any]]:
    """The pending rows a recorded happening owes: one per Slack file id a posted message carries."""
    if not isinstance(what, Posted) or not what.files or len(what.ts) > _SHORT:
        return []
    ids = dict.fromkeys(f["id"] for f in what.files if isinstance(f.get("id"), str) and _FILE_ID.fullmatch(f["id"]))
    user = what.user if what.user and len(what.user) <= _SHORT else None
    return [{"team_id": team_id[:_SHORT], "incident_id": incident_id, "file_id": file_id, "message_ts": what.ts,
             "user_id": user, "status": PENDING, "due_at": now + GRACE, "created_at": now, "claimed_by": None,
             "claim_expires_at": None, "attempts": 0, "done_at": None} for file_id in ids]


def _insert(dialect: str) -> Executable:
    stmt = _inserts.get(dialect)
    if stmt is None:
        stmt = _inserts[dialect] = conflict_insert(dialect, _T).on_conflict_do_nothing()
    return stmt


async def add(st: Statements, rows: Sequence[dict[str, Any]]) -> None:
    """Insert pending rows in the caller's transaction (the ingest writer's); a row already there is kept."""
    if rows:
        await st.run_many(_insert(st.dialect), rows)


async def waiting(session: AsyncSession, *, incident_id: int, message_ts: str) -> list[PendingFileHash]:
    """The unclaimed rows of one message, in the order they were written."""
    rows = await session.exec(select(PendingFileHash).where(
        PendingFileHash.incident_id == incident_id, PendingFileHash.message_ts == message_ts,
        PendingFileHash.status == PENDING).order_by(col(PendingFileHash.id)))
    return list(rows.all())


def _claimable(now: datetime, *, every: bool) -> ColumnElement[bool]:
    pending = _T.c.status == PENDING if every else and_(_T.c.status == PENDING, _T.c.due_at <= now)
    return or_(pending, and_(_T.c.status == CLAIMED, _T.c.claim_expires_at <= now))


async def claim(session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int,
                every: bool = False) -> list[PendingFileHash]:
    """Atomically take up to `limit` rows for `worker` (with `every`, pending ones not yet past their grace too);
    taking over an expired claim counts as an attempt. Commits."""
    pick = (core_select(_T.c.id).where(_claimable(now, every=every)).order_by(_T.c.due_at, _T.c.id).limit(limit))
    target = claimable_batch(session, pick, _T.c.id)
    stmt = (update(_T).where(target, _claimable(now, every=every))
            .values(status=CLAIMED, claimed_by=worker, claim_expires_at=now + lease,
                    attempts=_T.c.attempts + case((_T.c.status == CLAIMED, 1), else_=0))
            .returning(*_T.c))
    rows = [PendingFileHash(**dict(m)) for m in (await session.exec(stmt)).mappings().all()]
    await session.commit()
    return sorted(rows, key=lambda r: (r.due_at, r.id or 0))


async def finish(session: AsyncSession, row_id: int, *, worker: str | None, now: datetime) -> bool:
    """Mark a row done in the caller's transaction, which chains its entry; False (chain nothing, roll back) when
    the row is no longer the caller's: unclaimed for the listener (`worker` None), claimed by `worker` otherwise."""
    mine = (_T.c.status == PENDING if worker is None
            else and_(_T.c.status == CLAIMED, _T.c.claimed_by == worker))
    result: Any = await session.exec(update(_T).where(_T.c.id == row_id, mine)
                                     .values(status=DONE, done_at=now, claimed_by=None, claim_expires_at=None))
    return bool(result.rowcount)


async def release(session: AsyncSession, *, worker: str, ids: Sequence[int] | None = None) -> int:
    """Hand claimed rows back untouched (a stopping scheduler); commits."""
    return await release_claims(session, _T, worker=worker, ids=ids, pending=PENDING, claimed=CLAIMED)
