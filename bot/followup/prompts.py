"""What falls due for open incidents: status-update and triage prompts, and the weekly digest (Slack-free).

What counts as a status update is defined once, here, and read from the chain: a status or severity change, a
note, a triage submission, or a top-level message in the channel by whoever was commander or comms at the time.
Nothing on the ingest path has to remember to record it.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.followup import cadence, reminders
from bot.incident.triage import form_of
from storage.models import ActionItem, Incident, RoleAssignment, TimelineEntry, TriageVersion, Workspace

PROMPT_STATUSES = ("investigating", "mitigated")
# A status update is any of these chain entries, or a top-level message by whoever held one of UPDATE_ROLES then.
UPDATE_KINDS = ("status_changed", "severity_changed", "note", "triage_submitted")
UPDATE_ROLES = ("commander", "comms")


async def last_update(session: AsyncSession, incident: Incident) -> datetime:
    """When the last status update was posted, read from the chain (no writer has to remember to record it).

    The newest entry is found walking the chain backwards, so the cost is the entries since that update.
    """
    te, ra = TimelineEntry, RoleAssignment
    by_role = exists().where(col(ra.incident_id) == col(te.incident_id), col(ra.user_id) == col(te.actor),
                             col(ra.role).in_(UPDATE_ROLES), col(ra.assigned_at) <= col(te.at),
                             or_(col(ra.ended_at).is_(None), col(ra.ended_at) > col(te.at)))
    newest = await session.exec(
        select(te.at).where(col(te.incident_id) == incident.id,
                            or_(col(te.kind).in_(UPDATE_KINDS),
                                and_(col(te.kind) == "message", col(te.thread_ts).is_(None), by_role)))
        .order_by(col(te.seq).desc()).limit(1))
    found = newest.first()
    stored = incident.last_update_at or incident.created_at
    return max(stored, found) if found is not None else stored


async def _remember_update(session: AsyncSession, incident: Incident, at: datetime) -> None:
    # Keep Incident.last_update_at in step for everyone who reads it (only ever moves forward).
    if incident.last_update_at is None or incident.last_update_at < at:
        await session.exec(update(Incident).where(col(Incident.id) == incident.id,
                                                     or_(col(Incident.last_update_at).is_(None),
                                                         col(Incident.last_update_at) < at))
                              .values(last_update_at=at))


async def missing_triage(session: AsyncSession, catalog: Catalog, incident_id: int) -> tuple[str, ...]:
    """Required triage fields still empty in the latest version."""
    rows = await session.exec(select(TriageVersion).where(TriageVersion.incident_id == incident_id)
                              .order_by(col(TriageVersion.version).desc()).limit(1))
    return tuple(form_of(rows.first()).missing(catalog.triage.required))


def _installed(table: type[Incident] | type[ActionItem]) -> ColumnElement[bool]:
    # Single-workspace mode keeps no Workspace row: only a recorded uninstall stops a team's prompts and digests.
    gone = select(Workspace.team_id).where(col(Workspace.uninstalled_at).is_not(None))
    return col(table.team_id).not_in(gone)


async def materialize(session: AsyncSession, *, catalog: Catalog, now: datetime) -> int:
    """Create the status-update and triage prompts that are due now (idempotent across schedulers); commits."""
    # Incidents in id order: concurrent schedulers take the row locks of the write-back in the same order.
    rows = await session.exec(select(Incident).where(col(Incident.status).in_(PROMPT_STATUSES), _installed(Incident))
                              .order_by(col(Incident.id)))
    created = 0
    for incident in rows.all():
        assert incident.id is not None
        sev = catalog.severity(incident.severity)
        if sev is not None and sev.update_every_minutes:
            last = await last_update(session, incident)
            await _remember_update(session, incident, last)
            at = cadence.latest_window(last, sev.update_every_minutes, now)
            if at is not None:
                created += await _prompt(session, incident, "status_update", f"i{incident.id}:update:{iso(at)}", at)
        every = catalog.triage.prompt_every_minutes
        if every and catalog.triage.required:
            at = cadence.latest_window(incident.created_at, every, now)
            if at is not None and await missing_triage(session, catalog, incident.id):
                created += await _prompt(session, incident, "triage", f"i{incident.id}:triage:{iso(at)}", at)
    await session.commit()
    return created


async def _prompt(session: AsyncSession, incident: Incident, kind: str, key: str, at: datetime) -> int:
    found = await reminders.add(session, team_id=incident.team_id, kind=kind, due_at=at, dedupe_key=key,
                                incident_id=incident.id)
    return int(found is not None)


async def enqueue_digests(session: AsyncSession, *, catalog: Catalog, now: datetime,
                          day: date | None = None) -> list[int]:
    """One digest per workspace for the digest's local day (several schedulers firing the cron make one); commits."""
    if not catalog.digest.channel:
        return []
    installed = await session.exec(select(Workspace.team_id).where(col(Workspace.uninstalled_at).is_(None)))
    with_items = await session.exec(select(ActionItem.team_id).where(ActionItem.status == "open",
                                                                     _installed(ActionItem)).distinct())
    teams = sorted(set(installed.all()) | set(with_items.all()))
    day = day or cadence.local_today(now, ZoneInfo(catalog.digest.timezone))
    ids = []
    for team in teams:
        found = await reminders.add(session, team_id=team, kind="digest", due_at=now,
                                    dedupe_key=f"digest:{team}:{day.isoformat()}", data={"day": day.isoformat()})
        if found is not None:
            ids.append(found)
    await session.commit()
    return ids
