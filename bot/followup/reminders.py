"""Reminders as rows (the truth) and the claims that let any number of schedulers send each exactly once.

A row is `pending` until its `due_at`; a scheduler then claims it in one atomic statement (status `claimed`,
its worker id and a claim expiry), sends it, and finishes it only while it still holds the claim: `sent`,
`pending` again later (retry with backoff, or after a rate limit), `failed`, or `cancelled` when it no longer
applies. A claim left behind by a crashed scheduler expires and the row is claimed again (that counts as an
attempt). PostgreSQL picks rows with `FOR UPDATE SKIP LOCKED`; on SQLite the conditional UPDATE runs under the
database's single write lock. Every statement re-checks the state it expects, so a late writer changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import claimable_batch, conflict_insert, release_claims, table_of
from storage.models import Reminder

PENDING, CLAIMED, SENT, CANCELLED, FAILED = "pending", "claimed", "sent", "cancelled", "failed"
OWNER_KINDS = ("due_soon", "due", "overdue", "snoozed")
MAX_ERROR = 500

_T = table_of(Reminder)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(and_(_T.c.status == PENDING, _T.c.due_at <= now),
               and_(_T.c.status == CLAIMED, _T.c.claim_expires_at <= now))


def _row(mapping: Any) -> Reminder:
    return Reminder(**dict(mapping))


async def add(session: AsyncSession, *, team_id: str, kind: str, due_at: datetime, dedupe_key: str,
              incident_id: int | None = None, action_id: int | None = None, data: dict[str, Any] | None = None,
              revive: bool = False) -> int | None:
    """Insert a reminder unless its dedupe key exists; `revive` re-arms a cancelled row with the same key.

    Returns the id of the row that is now pending, or None when the key was already taken (a duplicate, or a
    reminder that was already sent). The caller commits.
    """
    values = {"team_id": team_id, "kind": kind, "due_at": due_at, "dedupe_key": dedupe_key[:160],
              "incident_id": incident_id, "action_id": action_id, "data": data or {}, "status": PENDING,
              "attempts": 0}
    dialect = session.get_bind().dialect.name
    stmt = conflict_insert(dialect, _T).values(values)
    if revive:
        stmt = stmt.on_conflict_do_update(
            index_elements=[_T.c.dedupe_key],
            set_={"status": PENDING, "due_at": due_at, "attempts": 0, "last_error": None, "claimed_by": None,
                  "claim_expires_at": None, "data": data or {}},
            where=_T.c.status == CANCELLED)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[_T.c.dedupe_key])
    result = await session.exec(stmt.returning(_T.c.id))
    found = result.scalar_one_or_none()
    return int(found) if found is not None else None


async def cancel(session: AsyncSession, *, action_id: int, kinds: Sequence[str] | None = None,
                 reason: str = "superseded") -> int:
    """Cancel an action item's reminders that are not sent yet (also in-flight ones); the caller commits."""
    stmt = (update(_T).where(_T.c.action_id == action_id, _T.c.status.in_((PENDING, CLAIMED)))
            .values(status=CANCELLED, last_error=reason, claimed_by=None, claim_expires_at=None))
    if kinds is not None:
        stmt = stmt.where(_T.c.kind.in_(tuple(kinds)))
    result: Any = await session.exec(stmt)
    return int(result.rowcount or 0)


async def cancel_for_team(session: AsyncSession, team_id: str, *, reason: str) -> int:
    """Cancel every reminder of a workspace that is not sent yet (it uninstalled Retro); the caller commits."""
    result: Any = await session.exec(update(_T).where(_T.c.team_id == team_id, _T.c.status.in_((PENDING, CLAIMED)))
                                     .values(status=CANCELLED, last_error=reason, claimed_by=None,
                                             claim_expires_at=None))
    return int(result.rowcount or 0)


async def pending_for(session: AsyncSession, action_id: int) -> list[Reminder]:
    """An action item's reminders still to be sent, soonest first."""
    rows = await session.exec(select(Reminder).where(Reminder.action_id == action_id,
                                                     col(Reminder.status).in_((PENDING, CLAIMED)))
                              .order_by(col(Reminder.due_at), col(Reminder.id)))
    return list(rows.all())


async def claim(session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int,
                ids: Sequence[int] | None = None) -> list[Reminder]:
    """Atomically take up to `limit` due rows (or expired claims) for `worker`, soonest first; commits."""
    pick = core_select(_T.c.id).where(_claimable(now)).order_by(_T.c.due_at, _T.c.id).limit(limit)
    if ids is not None:
        pick = pick.where(_T.c.id.in_(tuple(ids)))
    target = claimable_batch(session, pick, _T.c.id)
    stmt = (update(_T).where(target, _claimable(now))
            .values(status=CLAIMED, claimed_by=worker, claim_expires_at=now + lease,
                    attempts=_T.c.attempts + case((_T.c.status == CLAIMED, 1), else_=0))
            .returning(*_T.c))
    rows = [_row(m) for m in (await session.exec(stmt)).mappings().all()]
    await session.commit()
    return sorted(rows, key=lambda r: (r.due_at, r.id or 0))


def _mine(row_id: int, worker: str) -> ColumnElement[bool]:
    return and_(_T.c.id == row_id, _T.c.status == CLAIMED, _T.c.claimed_by == worker)


async def _finish(session: AsyncSession, row_id: int, worker: str, **values: Any) -> bool:
    result: Any = await session.exec(update(_T).where(_mine(row_id, worker)).values(**values))
    return bool(result.rowcount)


async def mark_sent(session: AsyncSession, row_id: int, *, worker: str, now: datetime) -> bool:
    """Record a delivery; False when the claim was lost (the caller commits, with any follow-up)."""
    return await _finish(session, row_id, worker, status=SENT, sent_at=now, claimed_by=None, claim_expires_at=None,
                         last_error=None)


async def mark_retry(session: AsyncSession, row_id: int, *, worker: str, at: datetime, error: str,
                     failed_attempt: bool) -> bool:
    """Put the row back for a later try; a rate limit does not count as a failed attempt (the caller commits)."""
    values: dict[str, Any] = {"status": PENDING, "due_at": at, "claimed_by": None, "claim_expires_at": None,
                              "last_error": error[:MAX_ERROR]}
    if failed_attempt:
        values["attempts"] = _T.c.attempts + 1
    return await _finish(session, row_id, worker, **values)


async def mark_failed(session: AsyncSession, row_id: int, *, worker: str, error: str) -> bool:
    """Give the row up after repeated or permanent failure (the caller commits, with the notice)."""
    return await _finish(session, row_id, worker, status=FAILED, claimed_by=None, claim_expires_at=None,
                         attempts=_T.c.attempts + 1, last_error=error[:MAX_ERROR])


async def mark_cancelled(session: AsyncSession, row_id: int, *, worker: str, reason: str) -> bool:
    """The reminder no longer applies (item done, update already posted…); the caller commits."""
    return await _finish(session, row_id, worker, status=CANCELLED, claimed_by=None, claim_expires_at=None,
                         last_error=reason[:MAX_ERROR])


async def release(session: AsyncSession, *, worker: str, ids: Sequence[int] | None = None) -> int:
    """Hand claimed rows back untouched (graceful shutdown, or a claim about to expire); commits."""
    return await release_claims(session, _T, worker=worker, ids=ids, pending=PENDING, claimed=CLAIMED)


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per status (for health pages, tests and the benchmark)."""
    rows = await session.exec(select(col(Reminder.status), func.count()).group_by(col(Reminder.status)))
    return {str(status): int(n) for status, n in rows.all()}


async def waiting(session: AsyncSession) -> int:
    """Reminders still to be sent (pending or claimed), across workspaces: the `retro_reminders_pending` gauge."""
    stmt = select(func.count()).select_from(Reminder).where(col(Reminder.status).in_((PENDING, CLAIMED)))
    return int((await session.exec(stmt)).one())
