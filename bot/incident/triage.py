"""The standard triage template, versioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import UsageError
from bot.record import chain
from storage.models import Incident, TriageVersion

FIELDS: dict[str, str] = {
    "what_happened": "What happened",
    "impact_start": "When it started (impact start)",
    "detected_at": "When it was detected",
    "detection": "How it was detected",
    "affected": "Systems and models affected",
    "customer_impact": "Customer impact",
    "containment": "Containment taken so far",
    "mitigated_at": "When it was mitigated",
}
TRIAGE_USAGE = "/retro triage [impact=<when>] [detected=<when>] [mitigated=<when>]"
# The fields that are times, and the incident milestone each one sets.
TIMES = {"impact_start": "impact_started_at", "detected_at": "detected_at", "mitigated_at": "mitigated_at"}


class TriageForm(BaseModel):
    """One submission of the template; times are aware datetimes."""

    what_happened: str = Field(default="", max_length=3000)
    impact_start: datetime | None = None
    detected_at: datetime | None = None
    detection: str = Field(default="", max_length=3000)
    affected: str = Field(default="", max_length=3000)
    customer_impact: str = Field(default="", max_length=3000)
    containment: str = Field(default="", max_length=3000)
    mitigated_at: datetime | None = None

    def missing(self, required: list[str]) -> list[str]:
        """Required fields still empty."""
        return [name for name in required if not getattr(self, name, None)]

    def problem(self, now: datetime) -> tuple[str, str] | None:
        """The first time that is in the future or contradicts another, as (field, what is wrong); None if none."""
        for name in TIMES:
            if (getattr(self, name) or now) > now:
                return name, f"{FIELDS[name]} cannot be in the future."
        if self.impact_start and self.detected_at and self.impact_start > self.detected_at:
            return "detected_at", "Detection cannot precede impact start."
        if self.impact_start and self.mitigated_at and self.impact_start > self.mitigated_at:
            return "mitigated_at", "Mitigation cannot precede impact start."
        return None


async def latest(session: AsyncSession, incident_id: int) -> TriageVersion | None:
    """The most recent submission."""
    rows = await session.exec(select(TriageVersion).where(TriageVersion.incident_id == incident_id)
                              .order_by(col(TriageVersion.version).desc()).limit(1))
    return rows.first()


async def versions(session: AsyncSession, incident_id: int) -> list[TriageVersion]:
    """All submissions, oldest first."""
    rows = await session.exec(select(TriageVersion).where(TriageVersion.incident_id == incident_id)
                              .order_by(col(TriageVersion.version)))
    return list(rows.all())


def form_of(version: TriageVersion | None) -> TriageForm:
    """The typed form of a stored submission (empty when none)."""
    return TriageForm() if version is None else TriageForm.model_validate(version.fields)


async def set_times(session: AsyncSession, *, incident: Incident, times: dict[str, datetime], actor: str,
                    now: datetime) -> TriageVersion:
    """A new version of the latest submission with some of its times set (`/retro triage mitigated=…`); commits."""
    assert incident.id is not None
    form = form_of(await latest(session, incident.id)).model_copy(update=times)
    if (wrong := form.problem(now)) is not None:
        raise UsageError(wrong[1], TRIAGE_USAGE)
    return await submit(session, incident=incident, form=form, actor=actor, now=now)


async def submit(session: AsyncSession, *, incident: Incident, form: TriageForm, actor: str,
                 now: datetime) -> TriageVersion:
    """Store a new version, update the impact, detection and mitigation milestones and record it; commits."""
    assert incident.id is not None
    prev = await latest(session, incident.id)
    fields: dict[str, Any] = form.model_dump(mode="json")
    version = TriageVersion(team_id=incident.team_id,
                            incident_id=incident.id, version=(prev.version + 1) if prev else 1, fields=fields,
                            submitted_by=actor, submitted_at=now)
    session.add(version)
    for name, milestone in TIMES.items():
        if getattr(form, name) is not None:
            setattr(incident, milestone, getattr(form, name))
    session.add(incident)
    changed = sorted(k for k, v in fields.items() if prev is None or prev.fields.get(k) != v)
    await chain.append(session, incident_id=incident.id, kind="triage_submitted", at=now, actor=actor,
                       key_event=prev is None, data={"version": version.version, "fields": fields, "changed": changed})
    await session.commit()
    return version
