"""Status and severity changes, with the milestones the metrics need."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.errors import ConflictError, NotAllowedError, UsageError
from bot.incident.roles import current_roles
from bot.record import chain
from storage.models import Incident

STATUSES = ("investigating", "mitigated", "resolved", "closed")
MILESTONES = {"mitigated": "mitigated_at", "resolved": "resolved_at", "closed": "closed_at"}
STATUS_USAGE = "/retro status <investigating|mitigated|resolved|closed> [reason]"
SEV_USAGE = "/retro sev <level> [reason]"


def legal_targets(current: str) -> list[str]:
    """Forward moves are free; going back is a reopen and needs a reason."""
    idx = STATUSES.index(current)
    return [s for s in STATUSES if s != current] if idx else list(STATUSES[1:])


async def change_status(session: AsyncSession, *, catalog: Catalog, incident: Incident, to: str, actor: str,
                        reason: str, now: datetime) -> Incident:
    """Move the incident to a new status; sets or clears milestones and records it; commits."""
    to = to.strip().lower()
    if to not in STATUSES:
        raise UsageError(f"Unknown status `{to}`. Legal now: {', '.join(legal_targets(incident.status))}.",
                         STATUS_USAGE)
    if to == incident.status:
        raise ConflictError(f"The incident is already {to}. Legal now: {', '.join(legal_targets(incident.status))}.")
    assert incident.id is not None
    going_back = STATUSES.index(to) < STATUSES.index(incident.status)
    if going_back and not reason.strip():
        raise UsageError(f"Reopening from {incident.status} to {to} needs a reason.", STATUS_USAGE)
    if (to == "closed" or incident.status == "closed") and catalog.close_permission == "commander":
        roles = await current_roles(session, incident.id)
        if roles.get("commander") != actor:
            raise NotAllowedError("Only the incident commander can close or reopen a closed incident.")
    previous = incident.status
    for status in STATUSES[1:]:
        attr = MILESTONES[status]
        if going_back and STATUSES.index(status) > STATUSES.index(to):
            setattr(incident, attr, None)
        elif not going_back and STATUSES.index(status) <= STATUSES.index(to) and getattr(incident, attr) is None:
            setattr(incident, attr, now)
    incident.status = to
    incident.last_update_at = now
    session.add(incident)
    await chain.append(session, incident_id=incident.id, kind="status_changed", at=now, actor=actor,
                       text=reason.strip() or None, key_event=True,
                       data={"from": previous, "to": to, "reopen": going_back})
    await session.commit()
    return incident


async def change_severity(session: AsyncSession, *, catalog: Catalog, incident: Incident, level: str, actor: str,
                          reason: str, now: datetime) -> Incident:
    """Change the severity and record it; commits."""
    valid = ", ".join(f"{s.level} ({s.name})" for s in catalog.severities)
    try:
        new = int(level.strip().lower().removeprefix("sev"))
    except ValueError:
        raise UsageError(f"Unknown severity `{level}`. Valid severities: {valid}.", SEV_USAGE) from None
    if catalog.severity(new) is None:
        raise UsageError(f"Unknown severity `{level}`. Valid severities: {valid}.", SEV_USAGE)
    if new == incident.severity:
        raise ConflictError(f"The incident is already SEV{new}.")
    assert incident.id is not None
    previous = incident.severity
    incident.severity = new
    session.add(incident)
    await chain.append(session, incident_id=incident.id, kind="severity_changed", at=now, actor=actor,
                       text=reason.strip() or None, key_event=True, data={"from": previous, "to": new})
    await session.commit()
    return incident
