"""Metric checks run again on schedule once a mitigation is verified (`recheck=7d`), as reminder rows.

A `recheck` row (no `action_id`, so the item's own reminders never cancel it; `data.action` names the item) is due
one cadence after the verification or after the last re-check; when the sweep claims it, the latest metric check of
each stage runs again over the same window ending then. A failure marks the item regressed and adds one `regressed`
row per person to tell (its owner and the incident's commander), delivered like any reminder. Only a verified item
is re-checked; a regressed one waits until it is verified again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.followup import reminders
from storage.core import table_of
from storage.loop_tables import ActionCheck, ActionVerification
from storage.models import ActionItem, Reminder

KIND, TOLD = "recheck", "regressed"
_T = table_of(Reminder)


def _prefix(action_id: int) -> str:
    return f"v{action_id}:recheck:"


async def metric_checks(session: AsyncSession, action_id: int) -> list[ActionCheck]:
    """The latest metric check with a verdict at each stage (what a re-check runs again), in stage order of first
    use."""
    rows = await session.exec(select(ActionCheck).where(ActionCheck.action_id == action_id,
                                                        ActionCheck.method == "metric",
                                                        col(ActionCheck.outcome).in_(("pass", "fail")))
                              .order_by(col(ActionCheck.checked_at), col(ActionCheck.id)))
    latest: dict[str, ActionCheck] = {}
    for row in rows.all():
        latest[row.stage] = row
    return list(latest.values())


async def cancel(session: AsyncSession, action_id: int, *, reason: str) -> None:
    """Cancel the item's pending re-check (a claimed one finishes); the caller commits."""
    await session.exec(update(_T).where(_T.c.dedupe_key.like(_prefix(action_id) + "%"),
                                        _T.c.status == reminders.PENDING)
                       .values(status=reminders.CANCELLED, last_error=reason))


async def schedule(session: AsyncSession, ver: ActionVerification, *, after: datetime) -> datetime | None:
    """Put the next re-check one cadence after `after` (replacing a pending one); None when the item has no cadence
    or no metric check to run again. The caller commits."""
    if ver.recheck_seconds is None or not await metric_checks(session, ver.action_id):
        return None
    await cancel(session, ver.action_id, reason="rescheduled")
    due = after + timedelta(seconds=ver.recheck_seconds)
    await reminders.add(session, team_id=ver.team_id, kind=KIND, due_at=due,
                        dedupe_key=f"{_prefix(ver.action_id)}{iso(due)}", incident_id=ver.incident_id,
                        data={"action": ver.action_id}, revive=True)
    return due


async def pending_at(session: AsyncSession, action_id: int) -> datetime | None:
    """When the item's next re-check is due (None: none is scheduled)."""
    row = (await session.exec(select(Reminder).where(col(Reminder.dedupe_key).like(_prefix(action_id) + "%"),
                                                     col(Reminder.status).in_((reminders.PENDING,
                                                                               reminders.CLAIMED)))
                              .order_by(col(Reminder.due_at)))).first()
    return row.due_at if row is not None else None


async def applies(session: AsyncSession, row: Reminder) -> tuple[ActionItem, ActionVerification] | str:
    """The item a due re-check runs for, or why it no longer applies."""
    action_id = int(row.data.get("action") or 0)
    action = await session.get(ActionItem, action_id)
    ver = await session.get(ActionVerification, action_id)
    if action is None or ver is None:
        return "action item is gone"
    if action.status == "dropped":
        return "action item is dropped"
    if row.kind == KIND and ver.state != "verified":
        return f"action item is {ver.state}"
    return action, ver


async def tell(session: AsyncSession, *, ver: ActionVerification, people: list[str], check_id: int,
               now: datetime) -> list[int]:
    """One `regressed` notice per person (owner, commander), due now; the caller commits."""
    ids = []
    for person in dict.fromkeys(people):
        found = await reminders.add(session, team_id=ver.team_id, kind=TOLD, due_at=now,
                                    dedupe_key=f"v{ver.action_id}:regressed:{check_id}:{person}",
                                    incident_id=ver.incident_id, data={"action": ver.action_id, "to": person,
                                                                       "check": check_id})
        if found is not None:
            ids.append(found)
    return ids
