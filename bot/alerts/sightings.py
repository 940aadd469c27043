"""What an incident has recorded of its alerts: each alert (by fingerprint) once as evidence of kind `alert`, with
the notification's digest and custody, and every change of its state (firing, firing again, resolved) as an
`alert` entry of the chain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts.batch import Alert, AlertBatch
from bot.canonical import iso
from bot.incident import evidence
from bot.record import chain
from storage.alert_tables import AlertNotice
from storage.models import Evidence, Incident, TimelineEntry

KIND = "alert"  # the evidence kind and the timeline entry kind alike
FIRING, AGAIN, RESOLVED = "firing", "firing again", "resolved"
_MODEL = re.compile(r"[\w.\-/]+@[\w.\-]+")  # what `model=` takes: name@version


@dataclass(frozen=True)
class Change:
    """An alert whose state the incident had not recorded yet, and how it changed."""

    alert: Alert
    change: str  # firing | firing again | resolved
    evidence: int | None  # E<n> when this sighting was its first, kept as evidence now


def change_of(alert: Alert, last: dict[str, Any] | None) -> str | None:
    """How an alert changed since its last recorded state: new, firing again (after a resolution, or with a new
    start), resolved; None when nothing changed (Alertmanager repeats every firing alert of the group)."""
    if alert.status == "resolved":
        return RESOLVED if last is None or last.get("status") != "resolved" else None
    if last is None:
        return FIRING
    if last.get("status") == "resolved" or last.get("starts_at") != iso(alert.starts_at):
        return AGAIN
    return None


async def last_states(session: AsyncSession, incident_id: int) -> dict[str, dict[str, Any]]:
    """Fingerprint -> the data of its latest `alert` entry in the incident's chain."""
    rows = await session.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id,
                                                          TimelineEntry.kind == KIND).order_by(col(TimelineEntry.seq)))
    return {str(e.data.get("fingerprint")): e.data for e in rows.all()}


async def evidenced(session: AsyncSession, incident_id: int) -> set[str]:
    """The fingerprints of the alerts the incident keeps as evidence."""
    rows = await session.exec(select(Evidence.options).where(Evidence.incident_id == incident_id,
                                                             Evidence.kind == KIND))
    return {str(o.get("fingerprint")) for o in rows.all()}


def custody_of(alert: Alert, batch: AlertBatch, notice: AlertNotice, actor: str) -> dict[str, Any]:
    """Where the alert came from and how it reached Retro: the notification's digest, source, receiver and group,
    and the alert as sent."""
    return {
        "source": batch.source, "receiver": batch.receiver, "group_key": batch.group_key,
        "external_url": batch.external_url,
        "notice": {"id": notice.id, "payload_sha256": notice.payload_sha256, "received_at": iso(notice.received_at)},
        "alert": {"fingerprint": alert.fingerprint, "status": alert.status, "labels": dict(alert.labels),
                  "annotations": dict(alert.annotations), "starts_at": iso(alert.starts_at),
                  "ends_at": iso(alert.ends_at), "generator_url": alert.generator_url},
        "recorded_by": actor,
    }


def evidence_item(alert: Alert) -> evidence.EvidenceInput:
    """The alert as an evidence item: its name, its summary as the note, its fingerprint (and model) as options, and
    when it started as when what it shows happened."""
    options = {"fingerprint": alert.fingerprint, "status": alert.status}
    name, version = alert.labels.get("model", ""), alert.labels.get("model_version", "")
    if name and version and _MODEL.fullmatch(f"{name}@{version}"):
        options["model"] = f"{name}@{version}"
    return evidence.EvidenceInput(KIND, alert.name, alert.annotations.get("summary", "").strip()[:1000], options,
                                  at=alert.starts_at)


def entry_text(alert: Alert, change: str) -> str:
    """The words of an `alert` entry: `<name> firing`, `<name> resolved at <time>`."""
    if change == RESOLVED:
        return f"{alert.name} resolved" + (f" at {iso(alert.ends_at)}" if alert.ends_at else "")
    return f"{alert.name} {change}"


async def record(session: AsyncSession, *, incident: Incident, batch: AlertBatch, notice: AlertNotice, actor: str,
                 now: datetime) -> list[Change]:
    """Keep each alert not yet kept as evidence and chain each change of state; commits. Recording the same
    notification twice adds nothing."""
    assert incident.id is not None
    states = await last_states(session, incident.id)
    kept = await evidenced(session, incident.id)
    changes = []
    for alert in batch.alerts:
        number = None
        if alert.fingerprint not in kept:
            row = await evidence.add(session, incident=incident, item=evidence_item(alert), actor=actor, now=now,
                                     custody=custody_of(alert, batch, notice, actor))
            kept.add(alert.fingerprint)
            number = row.number
        change = change_of(alert, states.get(alert.fingerprint))
        if change is None:
            continue
        data = {"fingerprint": alert.fingerprint, "status": alert.status, "change": change,
                "starts_at": iso(alert.starts_at), "ends_at": iso(alert.ends_at), "notice": notice.id,
                "payload_sha256": notice.payload_sha256, "evidence_number": number}
        await chain.append(session, incident_id=incident.id, kind=KIND, at=now, actor=actor,
                           text=entry_text(alert, change), key_event=change != AGAIN, data=data,
                           occurred_at=alert.ends_at if change == RESOLVED else alert.starts_at)
        await session.commit()
        states[alert.fingerprint] = data
        changes.append(Change(alert, change, number))
    return changes
