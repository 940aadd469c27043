"""The incident document: everything a postmortem needs, as one canonical, JSON-safe dict built from the database.

Rendering, metrics, the timeline picture and exported bundles are pure functions of this document, so a bundle's
`incident.json` re-renders byte-for-byte without a database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import canonical_json, iso
from bot.catalog import Catalog
from bot.incident.triage import FIELDS
from storage.models import ActionItem, Evidence, Hypothesis, Incident, RoleAssignment, TimelineEntry, TriageVersion

FORMAT = "retro-incident/1"
Doc = dict[str, Any]

_INCIDENT_FIELDS = ("id", "team_id", "channel_id", "channel_name", "title", "description", "severity", "category",
                    "status", "private", "declared_by", "declared_in", "models", "created_at", "impact_started_at",
                    "detected_at", "mitigated_at", "resolved_at", "closed_at", "insight_at")
_ENTRY_KEYS = tuple(sorted(("seq", "at", "kind", "actor", "slack_ts", "thread_ts", "refers_to", "key_event", "text",
                            "text_sha256", "data", "prev_hash", "hash")))
_EVIDENCE_FIELDS = ("incident_id", "number", "kind", "ref", "note", "options", "added_by", "added_at", "sha256",
                    "file_id", "file_sha256", "status", "custody", "media_type", "artifact_path")
_HYPOTHESIS_FIELDS = ("number", "statement", "proposed_by", "proposed_at", "test_plan", "expected", "criteria",
                      "verdict", "verdict_note", "verdict_evidence", "verdict_by", "verdict_at")
_ACTION_FIELDS = ("number", "title", "owner", "due", "kind", "hypothesis", "status", "created_by", "created_at",
                  "closed_at", "close_note")


def normalise(value: Any) -> Any:
    """The exact value a reader of the canonical JSON gets back (sorted keys, lists, ISO times)."""
    return json.loads(canonical_json(value))


def parse_time(value: str | None) -> datetime | None:
    """An ISO time of the document back as an aware UTC datetime."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _labels(catalog: Catalog, incident: Incident) -> dict[str, Any]:
    sev = catalog.severity(incident.severity)
    cat = catalog.category(incident.category)
    return {
        "severity": sev.name if sev else f"SEV{incident.severity}",
        "severity_criteria": sev.criteria if sev else "",
        "category": cat.name if cat else incident.category,
        "roles": [{"id": r.id, "name": r.name} for r in catalog.roles],
        "triage": [{"key": key, "label": label} for key, label in FIELDS.items()],
    }


def fast_iso(at: datetime) -> str:
    """bot.canonical.iso, several times faster for the years people live in (tests hold the two together)."""
    if not 1000 <= at.year <= 9999:
        return str(iso(at))
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def sorted_keys(value: Any) -> Any:
    """JSON-column data with every mapping's keys in canonical (sorted) order."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


async def _entries(session: AsyncSession, incident_id: int, upto: int) -> list[dict[str, Any]]:
    """Entries as canonical dicts, read as plain columns: ORM objects and per-row JSON decoding of the (mostly
    empty) data column would dominate the cost for long incidents."""
    columns = [type_coerce(col(TimelineEntry.data), Text) if key == "data" else col(getattr(TimelineEntry, key))
               for key in _ENTRY_KEYS]
    statement: Any = (sa_select(*columns).where(col(TimelineEntry.incident_id) == incident_id,
                                                col(TimelineEntry.seq) <= upto).order_by(col(TimelineEntry.seq)))
    out = []
    for row in (await session.exec(statement)).all():
        entry = dict(zip(_ENTRY_KEYS, row, strict=True))
        raw = entry["data"]
        entry["data"] = {} if raw in (None, "{}") else sorted_keys(json.loads(raw) if isinstance(raw, str) else raw)
        entry["at"] = fast_iso(entry["at"])
        out.append(entry)
    return out


async def build(session: AsyncSession, incident: Incident, *, catalog: Catalog,
                people: dict[str, str] | None = None) -> Doc:
    """Read the incident and everything recorded about it into the canonical document.

    The incident row is read first and only entries and numbered items it already counts are taken, so the
    document is a consistent snapshot even while people keep posting.
    """
    assert incident.id is not None
    fresh = await session.get(Incident, incident.id, populate_existing=True)
    assert fresh is not None
    iid = incident.id
    entries = await _entries(session, iid, fresh.entry_count)
    evidence = (await session.exec(select(Evidence).where(
        Evidence.incident_id == iid, col(Evidence.number) <= fresh.evidence_seq).order_by(col(Evidence.number)))).all()
    hypotheses = (await session.exec(select(Hypothesis).where(
        Hypothesis.incident_id == iid, col(Hypothesis.number) <= fresh.hypothesis_seq)
        .order_by(col(Hypothesis.number)))).all()
    actions = (await session.exec(select(ActionItem).where(
        ActionItem.incident_id == iid, col(ActionItem.number) <= fresh.action_seq)
        .order_by(col(ActionItem.number)))).all()
    roles = (await session.exec(select(RoleAssignment).where(RoleAssignment.incident_id == iid)
                                .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id)))).all()
    triage = (await session.exec(select(TriageVersion).where(TriageVersion.incident_id == iid)
                                 .order_by(col(TriageVersion.version).desc()).limit(1))).first()
    head = entries[-1]["hash"] if entries else fresh.head_hash
    small: Doc = {
        "format": FORMAT,
        "incident": {**_fields(fresh, _INCIDENT_FIELDS), "entry_count": len(entries), "head_hash": head},
        "labels": _labels(catalog, fresh),
        "timezone": catalog.timezone,
        "people": dict(sorted((people or {}).items())),
        "roles": [_fields(r, ("role", "user_id", "assigned_by", "assigned_at", "ended_at")) for r in roles],
        "triage": None if triage is None else _fields(triage, ("version", "fields", "submitted_by", "submitted_at")),
        "evidence": [_fields(e, _EVIDENCE_FIELDS) for e in evidence],
        "hypotheses": [_fields(h, _HYPOTHESIS_FIELDS) for h in hypotheses],
        "actions": [_fields(a, _ACTION_FIELDS) for a in actions],
    }
    normalised: Doc = normalise(small)  # entries are canonical already; the rest is small
    normalised["entries"] = entries
    return {key: normalised[key] for key in sorted(normalised)}


def user_ids(doc: Doc) -> list[str]:
    """Every Slack user the document names (actors, role holders, owners), for looking up display names."""
    found: set[str] = set()
    found.update(e["actor"] for e in doc["entries"] if e["actor"])
    found.update(r["user_id"] for r in doc["roles"])
    found.update(e["added_by"] for e in doc["evidence"])
    found.update(h["proposed_by"] for h in doc["hypotheses"])
    found.update(a["owner"] for a in doc["actions"])
    found.add(doc["incident"]["declared_by"])
    return sorted(u for u in found if u)


def with_people(doc: Doc, people: dict[str, str]) -> Doc:
    """The document with display names for user ids (kept in sorted order, like the canonical form)."""
    return {**doc, "people": dict(sorted({**doc["people"], **people}.items()))}


def key_seqs(entries: list[dict[str, Any]]) -> set[int]:
    """The key events: entries flagged when recorded, and messages marked afterwards (pin or reaction)."""
    marked = {e["refers_to"] for e in entries if e["kind"] == "key_event_marked"}
    return {e["seq"] for e in entries if (e["key_event"] and e["kind"] != "key_event_marked") or e["seq"] in marked}


def insight_at(doc: Doc) -> str | None:
    """When the first hypothesis was confirmed (the incident's milestone, or the earliest confirmation recorded)."""
    recorded: str | None = doc["incident"]["insight_at"]
    if recorded is not None:
        return recorded
    times = sorted(h["verdict_at"] for h in doc["hypotheses"] if h["verdict"] == "confirmed" and h["verdict_at"])
    return times[0] if times else None


def as_of(doc: Doc) -> str | None:
    """The time of the last entry the document includes."""
    return doc["entries"][-1]["at"] if doc["entries"] else None
