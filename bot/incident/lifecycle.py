"""Status and severity changes, with the milestones the metrics need."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.errors import ConflictError, NotAllowedError, UsageError
from bot.followup import verification
from bot.hints import did_you_mean
from bot.incident.roles import current_roles
from bot.record import chain
from storage.models import Incident

STATUSES = ("investigating", "mitigated", "resolved", "closed")
MILESTONES = {"mitigated": "mitigated_at", "resolved": "resolved_at", "closed": "closed_at"}
STATUS_USAGE = '/retro status <investigating|mitigated|resolved|closed> [reason] [reason="…"] [at=<when>]'
SEV_USAGE = '/retro sev <level> [reason] [reason="…"] [at=<when>]'


def legal_targets(current: str) -> list[str]:
    """Forward moves are free; going back is a reopen and needs a reason."""
    idx = STATUSES.index(current)
    return [s for s in STATUSES if s != current] if idx else list(STATUSES[1:])


async def check_move(session: AsyncSession, *, catalog: Catalog, incident: Incident, to: str, actor: str,
                     reason: str) -> str:
    """The status `to` names, once moving there is legal and this person may do it (an error says why not)."""
    to = to.strip().lower()
    if to not in STATUSES:
        raise UsageError(f"Unknown status `{to[:40]}`.{did_you_mean(to, STATUSES)} Legal now: "
                         f"{', '.join(legal_targets(incident.status))}.", STATUS_USAGE)
    if to == incident.status:
        raise ConflictError(f"The incident is already {to}. Legal now: {', '.join(legal_targets(incident.status))}.")
    assert incident.id is not None
    going_back = STATUSES.index(to) < STATUSES.index(incident.status)
    if going_back and not reason.strip():
        raise UsageError(f"Reopening from {incident.status} to {to} needs a reason.", STATUS_USAGE)
    if (to == "closed" or incident.status == "closed") and catalog.close_permission == "commander":
        roles = await current_roles(session, incident.id)
        if roles.get("commander") is None:  # declared from an alert with no commander configured
            raise NotAllowedError("Only the incident commander can close or reopen a closed incident, and nobody "
                                  "holds the role yet: take it with `/retro role commander @you` first.")
        if roles.get("commander") != actor:
            raise NotAllowedError("Only the incident commander can close or reopen a closed incident.")
    if to == "closed" and catalog.verify.close_requires_verified == "block":
        pending = await verification.unverified(session, catalog, incident.id)
        if pending:
            raise ConflictError(verification.refusal(pending))
    return to


async def change_status(session: AsyncSession, *, catalog: Catalog, incident: Incident, to: str, actor: str,
                        reason: str, now: datetime, at: datetime | None = None) -> Incident:
    """Move the incident to a new status; sets or clears milestones and records it; commits. The milestones a move
    forward sets take when it happened (`at`, given with `at=`, which also corrects the new status's own milestone
    when the triage template set it before), else now."""
    to = await check_move(session, catalog=catalog, incident=incident, to=to, actor=actor, reason=reason)
    assert incident.id is not None
    going_back = STATUSES.index(to) < STATUSES.index(incident.status)
    previous = incident.status
    for status in STATUSES[1:]:
        attr = MILESTONES[status]
        if going_back and STATUSES.index(status) > STATUSES.index(to):
            setattr(incident, attr, None)
        elif not going_back and STATUSES.index(status) <= STATUSES.index(to) and getattr(incident, attr) is None:
            setattr(incident, attr, at or now)
    if at is not None and to in MILESTONES and not going_back:  # said outright, it corrects a time set before
        setattr(incident, MILESTONES[to], at)
    incident.status = to
    incident.last_update_at = now
    session.add(incident)
    await chain.append(session, incident_id=incident.id, kind="status_changed", at=now, actor=actor,
                       text=reason.strip() or None, key_event=True,
                       data={"from": previous, "to": to, "reopen": going_back}, occurred_at=at)
    await session.commit()
    return incident


async def change_severity(session: AsyncSession, *, catalog: Catalog, incident: Incident, level: str, actor: str,
                          reason: str, now: datetime, at: datetime | None = None) -> Incident:
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
                       text=reason.strip() or None, key_event=True, data={"from": previous, "to": new},
                       occurred_at=at)
    await session.commit()
    return incident
