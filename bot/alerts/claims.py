"""Claims on alert groups: any number of processes share the recorded notices, and each is processed by one.

A group with notices waiting is `pending`. A worker claims it in one atomic statement (its id and a lease), works
through the group's pending notices in the order they arrived, finishes each, and releases the group; a group it
cannot finish (an error) keeps its claim until a backoff passes, and a crashed worker's lease expires so another
takes the group over. PostgreSQL picks groups with `FOR UPDATE SKIP LOCKED`; SQLite runs the conditional UPDATE
under its single write lock. Every write re-checks the claim it expects, so a late writer changes nothing.
Each function here commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts.intake import DONE, FAILED, PENDING
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.core import claimable_batch, table_of

MAX_ATTEMPTS = 5
MAX_ERROR = 500

_G = table_of(AlertGroupRow)
_N = table_of(AlertNotice)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(_G.c.pending.is_(True), or_(_G.c.claimed_by.is_(None), _G.c.claim_expires_at <= now))


def _mine(group_id: int, worker: str) -> ColumnElement[bool]:
    return and_(_G.c.id == group_id, _G.c.claimed_by == worker)


async def claim_groups(session: AsyncSession, *, worker: str, now: datetime, lease: timedelta,
                       limit: int) -> list[AlertGroupRow]:
    """Atomically take up to `limit` pending groups nobody holds (or whose claim expired), oldest news first."""
    pick = core_select(_G.c.id).where(_claimable(now)).order_by(_G.c.updated_at, _G.c.id).limit(limit)
    target = claimable_batch(session, pick, _G.c.id)
    stmt = (update(_G).where(target, _claimable(now))
            .values(claimed_by=worker, claim_expires_at=now + lease).returning(*_G.c))
    rows = [AlertGroupRow(**dict(m)) for m in (await session.exec(stmt)).mappings().all()]
    await session.commit()
    return sorted(rows, key=lambda r: (r.updated_at, r.id or 0))


async def renew_group(session: AsyncSession, group_id: int, *, worker: str, now: datetime,
                      lease: timedelta) -> bool:
    """Extend a claim this worker holds; False when it was lost (expired and taken over)."""
    result: Any = await session.exec(update(_G).where(_mine(group_id, worker))
                                     .values(claim_expires_at=now + lease))
    await session.commit()
    return bool(result.rowcount)


async def get_group(session: AsyncSession, group_id: int) -> AlertGroupRow | None:
    """The group as it is now in the database."""
    found = await session.exec(select(AlertGroupRow).where(AlertGroupRow.id == group_id)
                               .execution_options(populate_existing=True))
    return found.first()


async def pending_notices(session: AsyncSession, group_id: int) -> list[AlertNotice]:
    """The group's notices still to process, in the order they arrived."""
    rows = await session.exec(select(AlertNotice).where(AlertNotice.group_id == group_id,
                                                        AlertNotice.status == PENDING)
                              .order_by(col(AlertNotice.id)))
    return list(rows.all())


def _held(worker: str | None) -> list[ColumnElement[bool]]:
    if worker is None:
        return []
    return [exists().where(_G.c.id == _N.c.group_id, _G.c.claimed_by == worker)]


async def finish_notice(session: AsyncSession, notice_id: int, *, outcome: str, incident_id: int | None,
                        now: datetime, error: str | None = None, worker: str | None = None) -> bool:
    """Record what a pending notice came to (outcome `failed` marks it failed, anything else done); with `worker`,
    only while that worker holds the group. False when the notice was not pending (or the claim was lost)."""
    status = FAILED if outcome == "failed" else DONE
    stmt = (update(_N).where(_N.c.id == notice_id, _N.c.status == PENDING, *_held(worker))
            .values(status=status, outcome=outcome, incident_id=incident_id, finished_at=now,
                    error=error[:MAX_ERROR] if error else None))
    result: Any = await session.exec(stmt)
    await session.commit()
    return bool(result.rowcount)


async def fail_attempt(session: AsyncSession, notice_id: int, *, error: str, now: datetime,
                       worker: str | None = None) -> bool:
    """Count a failed try at a pending notice; after MAX_ATTEMPTS it is marked failed. True when it gave up."""
    found = await session.exec(select(AlertNotice.attempts).where(AlertNotice.id == notice_id,
                                                                  AlertNotice.status == PENDING))
    attempts = found.first()
    if attempts is None:
        return False
    give_up = attempts + 1 >= MAX_ATTEMPTS
    values: dict[str, Any] = {"attempts": _N.c.attempts + 1, "error": error[:MAX_ERROR]}
    if give_up:
        values.update(status=FAILED, outcome="failed", finished_at=now)
    result: Any = await session.exec(update(_N).where(_N.c.id == notice_id, _N.c.status == PENDING,
                                                      *_held(worker)).values(**values))
    await session.commit()
    return give_up and bool(result.rowcount)


async def set_group_incident(session: AsyncSession, group_id: int, incident_id: int | None, *, worker: str) -> bool:
    """Link the group to the incident it declared or joined, only while `worker` holds it; False otherwise."""
    result: Any = await session.exec(update(_G).where(_mine(group_id, worker)).values(incident_id=incident_id))
    await session.commit()
    return bool(result.rowcount)


async def postpone_group(session: AsyncSession, group_id: int, *, worker: str, until: datetime) -> bool:
    """Keep the claim until `until` (a retry after an error): nobody, this worker included, takes it before."""
    result: Any = await session.exec(update(_G).where(_mine(group_id, worker)).values(claim_expires_at=until))
    await session.commit()
    return bool(result.rowcount)


async def release_group(session: AsyncSession, group_id: int, *, worker: str) -> bool:
    """Hand the group back: no longer pending, unless a notice arrived meanwhile. False when the claim was lost."""
    # Lock the row first: an intake in flight holds it from its upsert to its commit, so the check that follows
    # (a new statement, a fresh snapshot on PostgreSQL) sees that intake's notice. On SQLite the lock clause is
    # dropped and the database's single writer serialises the two.
    locked = await session.exec(select(AlertGroupRow.id).where(AlertGroupRow.id == group_id,
                                                               AlertGroupRow.claimed_by == worker).with_for_update())
    if locked.first() is None:
        await session.rollback()
        return False
    waiting = exists().where(_N.c.group_id == group_id, _N.c.status == PENDING)
    result: Any = await session.exec(update(_G).where(_mine(group_id, worker))
                                     .values(pending=waiting, claimed_by=None, claim_expires_at=None))
    await session.commit()
    return bool(result.rowcount)


async def release_worker(session: AsyncSession, *, worker: str) -> int:
    """Hand back every group a stopping worker holds (they stay pending); returns how many."""
    result: Any = await session.exec(update(_G).where(_G.c.claimed_by == worker)
                                     .values(claimed_by=None, claim_expires_at=None))
    await session.commit()
    return int(result.rowcount or 0)


async def forget_notices(session: AsyncSession, *, days: int, now: datetime, chunk: int = 1000) -> int:
    """Delete notifications handled (done or failed) more than `days` before `now`, in bounded chunks each in its own
    transaction; returns how many went. A pending one is never touched; a notification sent again after its twin
    was forgotten is handled again (it joins the incident its group is linked to). Idempotent: every replica may run
    it."""
    oldest = (core_select(_N.c.id).where(_N.c.status != PENDING, _N.c.finished_at < now - timedelta(days=days))
              .order_by(_N.c.id).limit(chunk))
    removed = 0
    while True:
        result: Any = await session.exec(delete(_N).where(_N.c.id.in_(oldest)))
        await session.commit()
        count = int(result.rowcount or 0)
        removed += count
        if count < chunk:
            return removed
