"""What a due reminder means now, and what follows once it is sent or given up (Slack-free).

Kinds: `assigned` (DM to a new owner), `due_soon` / `due` / `overdue` / `snoozed` (DMs to the owner),
`escalation` (DM to the commander), `recheck` and `regressed` (a mitigation's metric checks run again, and the DMs
when one fails: bot.followup.rechecks), `status_update` (channel prompt to the commander), `triage` (card-thread
prompt to commander and scribe), `digest` (weekly list in the configured channel), `audit` (the monthly process
audit, in the same channel) and `failure_notice` (DM to the commander after a reminder could not be delivered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.followup import action_items, cadence, prompts, rechecks, reminders
from bot.record import chain
from storage.core import table_of
from storage.models import ActionItem, Incident, Reminder, RoleAssignment

ACTION_KINDS = ("assigned", *reminders.OWNER_KINDS, "escalation")


@dataclass(frozen=True)
class Notice:
    """A reminder that still applies, with everything needed to word it."""

    row: Reminder
    to: str
    incident: Incident | None = None
    action: ActionItem | None = None
    commander: str | None = None
    mention: tuple[str, ...] = ()
    overdue_days: int = 0
    minutes: int = 0
    missing: tuple[str, ...] = ()
    items: list[tuple[ActionItem, Incident]] = field(default_factory=list)


@dataclass
class Batch:
    """Incidents and their role holders for a claimed batch, loaded once (they rarely change within it)."""

    incidents: dict[int, Incident] = field(default_factory=dict)
    roles: dict[int, dict[str, str]] = field(default_factory=dict)


async def load_batch(session: AsyncSession, rows: list[Reminder]) -> Batch:
    """Two queries for a whole batch instead of two per reminder."""
    ids = sorted({r.incident_id for r in rows if r.incident_id is not None})
    batch = Batch()
    if ids:
        found = await session.exec(select(Incident).where(col(Incident.id).in_(ids)))
        batch.incidents = {i.id or 0: i for i in found.all()}
        held = await session.exec(select(RoleAssignment).where(col(RoleAssignment.incident_id).in_(ids),
                                                               col(RoleAssignment.ended_at).is_(None)))
        for r in held.all():
            batch.roles.setdefault(r.incident_id, {})[r.role] = r.user_id
    return batch


async def _fresh(session: AsyncSession, row: Reminder, worker: str) -> tuple[bool, ActionItem | None]:
    # Right before sending: is the row still ours (not cancelled by a done/snooze meanwhile), and the item now.
    found = (await session.exec(
        select(Reminder.status, Reminder.claimed_by, ActionItem)
        .join(ActionItem, col(ActionItem.id) == col(Reminder.action_id), isouter=True)
        .where(Reminder.id == row.id).execution_options(populate_existing=True))).first()
    if found is None:
        return False, None
    status, owner, action = found
    return status == reminders.CLAIMED and owner == worker, action


async def prepare(session: AsyncSession, row: Reminder, *, catalog: Catalog, now: datetime, worker: str,
                  batch: Batch | None = None) -> Notice | str | None:
    """The notice to send, the reason the reminder no longer applies, or None when it is no longer ours."""
    batch = batch or await load_batch(session, [row])
    ours, action = await _fresh(session, row, worker)
    if not ours:
        return None
    incident = batch.incidents.get(row.incident_id or 0)
    roles = batch.roles.get(row.incident_id or 0, {})
    commander = roles.get("commander")
    if row.kind in ACTION_KINDS:
        if action is None or action.status != "open":
            return f"action item is {action.status if action else 'gone'}"
        if row.kind == "assigned" and row.data.get("owner") != action.owner:
            return "reassigned since"
        if row.kind != "assigned" and row.data.get("due") != action.due.isoformat():
            return "due date changed"
        late = cadence.days_overdue(action.due, cadence.local_today(now, catalog.tz))
        if row.kind == "escalation":
            if commander is None:
                return "the incident has no commander"
            return Notice(row, commander, incident, action, commander, overdue_days=late)
        return Notice(row, action.owner, incident, action, commander, overdue_days=late)
    if row.kind in (rechecks.KIND, rechecks.TOLD):
        found = await rechecks.applies(session, row)
        if isinstance(found, str):
            return found
        return Notice(row, str(row.data.get("to") or found[0].owner), incident, found[0], commander)
    if row.kind == "failure_notice":
        return Notice(row, commander, incident, commander=commander) if commander else "no commander to tell"
    if row.kind in ("digest", "audit"):
        channel = catalog.digest.channel
        if not channel:
            return "no digest channel configured"
        if row.kind == "audit":
            return Notice(row, channel.lstrip("#"))
        return Notice(row, channel.lstrip("#"), items=await action_items.open_in_team(session, row.team_id,
                                                                                public_only=True))
    assert incident is not None and incident.id is not None
    if incident.status not in prompts.PROMPT_STATUSES:
        return f"incident is {incident.status}"
    if row.kind == "status_update":
        sev = catalog.severity(incident.severity)
        every = sev.update_every_minutes if sev else None
        last = await prompts.last_update(session, incident)
        if every is None or last + timedelta(minutes=every) > now:
            return "an update was posted" if every else "severity has no update cadence"
        minutes = int((now - last).total_seconds() // 60)
        return Notice(row, incident.channel_id, incident, commander=commander,
                      mention=tuple(u for u in (commander,) if u), minutes=minutes)
    missing = await prompts.missing_triage(session, catalog, incident.id)
    if not missing:
        return "triage template is complete"
    people = tuple(dict.fromkeys(u for u in (commander, roles.get("scribe")) if u))
    return Notice(row, incident.channel_id, incident, commander=commander, mention=people, missing=missing)


async def _lock_action(session: AsyncSession, action_id: int) -> ActionItem | None:
    # Same lock order as bot.followup.action_items (item first, then the incident through the chain); returns the
    # fresh row.
    table = table_of(ActionItem)
    found = (await session.exec(update(table).where(table.c.id == action_id).values(number=table.c.number)
                                .returning(*table.c))).mappings().first()
    return ActionItem(**dict(found)) if found is not None else None


async def after_sent(session: AsyncSession, row: Reminder, *, catalog: Catalog, worker: str, now: datetime,
                     notice: Notice | None = None) -> bool:
    """Mark the row sent and schedule what follows (next owner reminder, escalation record); commits.

    False when this worker no longer held the claim (the row was cancelled or taken over meanwhile).
    """
    assert row.id is not None
    action = await _lock_action(session, row.action_id) if row.action_id is not None else None
    if not await reminders.mark_sent(session, row.id, worker=worker, now=now):
        await session.rollback()
        return False
    if action is not None and action.status == "open" and row.kind in reminders.OWNER_KINDS:
        after = max(row.due_at, now)
        await action_items.add_owner_point(session, action, cadence.next_owner_point(
            action.due, after, catalog.reminders, catalog.tz))
    if action is not None and row.kind == "escalation":
        await chain.append(session, incident_id=action.incident_id, kind="action_escalated", at=now,
                           data={"number": action.number, "commander": notice.to if notice else None,
                                 "owner": action.owner, "due": action.due.isoformat(),
                                 "overdue_days": notice.overdue_days if notice else None})
    await session.commit()
    return True


async def after_cancelled(session: AsyncSession, row: Reminder, *, worker: str, reason: str) -> bool:
    """Close a reminder that no longer applies; commits."""
    assert row.id is not None
    done = await reminders.mark_cancelled(session, row.id, worker=worker, reason=reason)
    await session.commit()
    return done


async def after_failure(session: AsyncSession, row: Reminder, *, catalog: Catalog, worker: str, now: datetime,
                        error: str, permanent: bool = False, retry_after: float | None = None) -> str:
    """Retry later with backoff (a rate limit only delays), or give up and tell the commander once; commits.

    Returns "delayed", "retry", "failed" or "lost" (the claim was no longer ours).
    """
    assert row.id is not None
    cfg = catalog.reminders
    attempts = row.attempts + 1
    if retry_after is not None:
        outcome = "delayed"
        done = await reminders.mark_retry(session, row.id, worker=worker, error=error, failed_attempt=False,
                                          at=now + timedelta(seconds=max(1.0, retry_after)))
    elif not permanent and attempts < cfg.max_attempts:
        outcome = "retry"
        done = await reminders.mark_retry(session, row.id, worker=worker, error=error, failed_attempt=True,
                                          at=now + cadence.backoff(attempts, cfg.retry_seconds))
    else:
        outcome = "failed"
        done = await reminders.mark_failed(session, row.id, worker=worker, error=error)
        if done and row.incident_id is not None and row.kind != "failure_notice":
            await _record_failure(session, row, now=now, error=error, attempts=attempts)
    if not done:
        await session.rollback()
        return "lost"
    await session.commit()
    return outcome


async def _record_failure(session: AsyncSession, row: Reminder, *, now: datetime, error: str, attempts: int) -> None:
    assert row.incident_id is not None and row.id is not None
    action = await session.get(ActionItem, row.action_id) if row.action_id else None
    data: dict[str, object] = {"reminder": row.id, "reminder_kind": row.kind, "error": error[:200],
                               "attempts": attempts, "number": action.number if action else None}
    await chain.append(session, incident_id=row.incident_id, kind="reminder_failed", at=now, data=data)
    await reminders.add(session, team_id=row.team_id, kind="failure_notice", due_at=now,
                        dedupe_key=f"failed:{row.id}", incident_id=row.incident_id, action_id=row.action_id,
                        data=data)


