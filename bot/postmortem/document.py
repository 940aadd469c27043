"""The incident document: everything a postmortem needs, as one canonical, JSON-safe dict built from the database.

Rendering, metrics, the timeline picture and exported bundles are pure functions of this document, so a bundle's
`incident.json` re-renders byte-for-byte without a database.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Text, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import canonical_json, iso
from bot.catalog import Catalog
from bot.incident.triage import FIELDS
from bot.postmortem.doc_types import (
    ActionRecord,
    Doc,
    Entry,
    EvidenceRecord,
    HypothesisRecord,
    IncidentHeader,
    Labels,
    RelatedRecord,
    RoleRecord,
    TriageFields,
    TriageRecord,
    VerdictRecord,
)
from bot.postmortem.recurrence_links import recurrence_records, with_recurrences
from storage.models import (
    ActionItem,
    Evidence,
    Hypothesis,
    HypothesisVerdict,
    Incident,
    RoleAssignment,
    TimelineEntry,
    TriageVersion,
)

# /2 adds, where they were given, an entry's `occurred_at` and the triage template's `mitigated_at`; a /1 document
# has neither and reads, verifies and renders as it always did. /3 adds `related` (earlier incidents like this one)
# and `blameless` (the check's findings) and renders with the current draft; /1 and /2 render with the draft of
# their time (templates/v2), byte for byte.
FORMAT = "retro-incident/3"
LEGACY_FORMATS = ("retro-incident/1", "retro-incident/2")
READABLE = (*LEGACY_FORMATS, FORMAT)
T = TypeVar("T")
MENTION = re.compile(r"<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>")

# The entry columns in canonical (sorted) key order: rows are unpacked in this order.
_ENTRY_COLUMNS = ("actor", "at", "data", "hash", "key_event", "kind", "occurred_at", "prev_hash", "refers_to", "seq",
                  "slack_ts", "text", "text_sha256", "thread_ts")


def normalise(value: T) -> T:
    """A JSON-column value exactly as a reader of the canonical JSON gets it back (keys sorted, tuples as lists)."""
    back: T = json.loads(canonical_json(value))
    return back


def parse_time(value: str | None) -> datetime | None:
    """An ISO time of the document back as an aware UTC datetime."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _time(at: datetime) -> str:
    return str(iso(at))


def _labels(catalog: Catalog, incident: Incident) -> Labels:
    sev = catalog.severity(incident.severity)
    cat = catalog.category(incident.category)
    return {
        "category": cat.name if cat else incident.category,
        "roles": [{"id": r.id, "name": r.name} for r in catalog.roles],
        "severity": sev.name if sev else f"SEV{incident.severity}",
        "severity_criteria": sev.criteria if sev else "",
        "triage": [{"key": key, "label": label} for key, label in FIELDS.items()],
    }


def fast_iso(at: datetime) -> str:
    """bot.canonical.iso, several times faster for the years people live in (tests hold the two together)."""
    if not 1000 <= at.year <= 9999:
        return str(iso(at))
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def sorted_keys(value: T) -> T:
    """JSON-column data with every mapping's keys in canonical (sorted) order."""
    if isinstance(value, dict):
        return cast(T, {k: sorted_keys(value[k]) for k in sorted(value)})
    if isinstance(value, list):
        return cast(T, [sorted_keys(v) for v in value])
    return value


async def _entries(session: AsyncSession, incident_id: int, upto: int) -> list[Entry]:
    """Entries as canonical dicts, read as plain columns: ORM objects and per-row JSON decoding of the (mostly
    empty) data column would dominate the cost for long incidents."""
    columns = [type_coerce(col(TimelineEntry.data), Text) if key == "data" else col(getattr(TimelineEntry, key))
               for key in _ENTRY_COLUMNS]
    statement: Any = (sa_select(*columns).where(col(TimelineEntry.incident_id) == incident_id,
                                                col(TimelineEntry.seq) <= upto).order_by(col(TimelineEntry.seq)))
    out: list[Entry] = []
    for actor, at, raw, hash_, key_event, kind, occurred, prev_hash, refers_to, seq, slack_ts, text, text_sha256, \
            thread_ts in (await session.exec(statement)).all():
        data = {} if raw in (None, "{}") else sorted_keys(json.loads(raw) if isinstance(raw, str) else raw)
        entry: dict[str, Any] = {"actor": actor, "at": fast_iso(at), "data": data, "hash": hash_,
                                 "key_event": key_event, "kind": kind}
        if occurred is not None:  # only where given, so an entry without one reads as it always did
            entry["occurred_at"] = fast_iso(occurred)
        entry.update(prev_hash=prev_hash, refers_to=refers_to, seq=seq, slack_ts=slack_ts, text=text,
                     text_sha256=text_sha256, thread_ts=thread_ts)
        out.append(cast(Entry, entry))
    return out


def _header(incident: Incident, incident_id: int, entry_count: int, head: str) -> IncidentHeader:
    return {
        "category": incident.category, "channel_id": incident.channel_id, "channel_name": incident.channel_name,
        "closed_at": iso(incident.closed_at), "created_at": _time(incident.created_at),
        "declared_by": incident.declared_by, "declared_in": incident.declared_in,
        "description": incident.description, "detected_at": iso(incident.detected_at), "entry_count": entry_count,
        "head_hash": head, "id": incident_id, "impact_started_at": iso(incident.impact_started_at),
        "insight_at": iso(incident.insight_at), "mitigated_at": iso(incident.mitigated_at),
        "models": normalise(incident.models), "private": incident.private, "resolved_at": iso(incident.resolved_at),
        "severity": incident.severity, "status": incident.status, "team_id": incident.team_id,
        "title": incident.title,
    }


def _role(r: RoleAssignment) -> RoleRecord:
    return {"assigned_at": _time(r.assigned_at), "assigned_by": r.assigned_by, "ended_at": iso(r.ended_at),
            "role": r.role, "user_id": r.user_id}


def _triage(t: TriageVersion) -> TriageRecord:
    fields = cast(TriageFields, normalise(t.fields))  # the JSON column holds the submitted TriageForm
    return {"fields": fields, "submitted_at": _time(t.submitted_at), "submitted_by": t.submitted_by,
            "version": t.version}


def _evidence(e: Evidence) -> EvidenceRecord:
    return {
        "added_at": _time(e.added_at), "added_by": e.added_by, "artifact_path": e.artifact_path,
        "custody": normalise(e.custody), "file_id": e.file_id, "file_sha256": e.file_sha256,
        "incident_id": e.incident_id, "kind": e.kind, "media_type": e.media_type, "note": e.note,
        "number": e.number, "options": normalise(e.options), "ref": e.ref, "sha256": e.sha256, "status": e.status,
    }


def _verdict(v: HypothesisVerdict) -> VerdictRecord:
    return {"decided_at": _time(v.decided_at), "decided_by": v.decided_by, "evidence": normalise(v.evidence),
            "note": v.note, "recorded_at": _time(v.recorded_at), "verdict": v.verdict}


def _hypothesis(h: Hypothesis, history: list[HypothesisVerdict]) -> HypothesisRecord:
    record: HypothesisRecord = {
        "criteria": h.criteria, "expected": h.expected, "number": h.number, "proposed_at": _time(h.proposed_at),
        "proposed_by": h.proposed_by, "statement": h.statement, "test_plan": h.test_plan, "verdict": h.verdict,
        "verdict_at": iso(h.verdict_at), "verdict_by": h.verdict_by, "verdict_evidence": normalise(h.verdict_evidence),
        "verdict_note": h.verdict_note,
    }
    if len(history) > 1:  # the last is the verdict above; the ones it replaced are kept beside it
        record["earlier_verdicts"] = [_verdict(v) for v in history[:-1]]
    return cast(HypothesisRecord, dict(sorted(record.items())))


def _action(a: ActionItem) -> ActionRecord:
    record: ActionRecord = {
        "close_note": a.close_note, "closed_at": iso(a.closed_at), "created_at": _time(a.created_at),
        "created_by": a.created_by, "due": a.due.isoformat(), "hypothesis": a.hypothesis, "kind": a.kind,
        "number": a.number, "owner": a.owner, "status": a.status, "title": a.title,
    }
    return {"after_close": True, **record} if a.after_close else record


async def build(session: AsyncSession, incident: Incident, *, catalog: Catalog,
                people: dict[str, str] | None = None, related: list[RelatedRecord] | None = None,
                entries: list[Entry] | None = None) -> Doc:
    """Read the incident and everything recorded about it into the canonical document (`related`: earlier
    incidents like it, bot.insights.related; the blameless findings are added by bot.postmortem.draft.check).
    `entries`, when given, stand for the chain (a view that needs only some of them reads those itself).

    The incident row is read first and only entries and numbered items it already counts are taken, so the
    document is a consistent snapshot even while people keep posting.
    """
    assert incident.id is not None
    fresh = await session.get(Incident, incident.id, populate_existing=True)
    assert fresh is not None
    iid = incident.id
    if entries is None:
        entries = await _entries(session, iid, fresh.entry_count)
    evidence = (await session.exec(select(Evidence).where(
        Evidence.incident_id == iid, col(Evidence.number) <= fresh.evidence_seq).order_by(col(Evidence.number)))).all()
    hypotheses = (await session.exec(select(Hypothesis).where(
        Hypothesis.incident_id == iid, col(Hypothesis.number) <= fresh.hypothesis_seq)
        .order_by(col(Hypothesis.number)))).all()
    actions = (await session.exec(select(ActionItem).where(
        ActionItem.incident_id == iid, col(ActionItem.number) <= fresh.action_seq)
        .order_by(col(ActionItem.number)))).all()
    history: dict[int, list[HypothesisVerdict]] = {}
    for v in (await session.exec(select(HypothesisVerdict).where(HypothesisVerdict.incident_id == iid)
                                 .order_by(col(HypothesisVerdict.number), col(HypothesisVerdict.seq)))).all():
        history.setdefault(v.number, []).append(v)
    roles = (await session.exec(select(RoleAssignment).where(RoleAssignment.incident_id == iid)
                                .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id)))).all()
    triage = (await session.exec(select(TriageVersion).where(TriageVersion.incident_id == iid)
                                 .order_by(col(TriageVersion.version).desc()).limit(1))).first()
    head = entries[-1]["hash"] if entries else fresh.head_hash
    recurred = await recurrence_records(session, iid, catalog)
    return with_recurrences({  # keys in canonical order at every level, like a reader of incident.json gets them
        "actions": [_action(a) for a in actions],
        "blameless": [],
        "entries": entries,
        "evidence": [_evidence(e) for e in evidence],
        "format": FORMAT,
        "hypotheses": [_hypothesis(h, history.get(h.number, [])) for h in hypotheses],
        "incident": _header(fresh, iid, len(entries), head),
        "labels": _labels(catalog, fresh),
        "people": dict(sorted((people or {}).items())),
        "related": normalise(related or []),
        "roles": [_role(r) for r in roles],
        "timezone": catalog.timezone,
        "triage": None if triage is None else _triage(triage),
    }, normalise(recurred))


def user_ids(doc: Doc) -> list[str]:
    """Every Slack user the document names (actors, role holders, owners), for looking up display names."""
    found: set[str] = set()
    found.update(e["actor"] for e in doc["entries"] if e["actor"])
    found.update(r["user_id"] for r in doc["roles"])
    found.update(e["added_by"] for e in doc["evidence"])
    found.update(h["proposed_by"] for h in doc["hypotheses"])
    found.update(a["owner"] for a in doc["actions"])
    found.add(doc["incident"]["declared_by"])
    found.update(r["confirmed_by"] for r in doc.get("recurrences", []))
    for e in doc["entries"]:  # people named in what was said, and reviewers of the postmortem
        found.update(MENTION.findall(e["text"] or ""))
        found.update(u for u in cast(list[Any], e["data"].get("reviewers") or []) if isinstance(u, str))
        owner = e["data"].get("owner")
        if isinstance(owner, str):
            found.add(owner)
    return sorted(u for u in found if u)


def with_people(doc: Doc, people: dict[str, str]) -> Doc:
    """The document with display names for user ids (kept in sorted order, like the canonical form)."""
    return {**doc, "people": dict(sorted({**doc["people"], **people}.items()))}


def key_seqs(entries: list[Entry]) -> set[int]:
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
    """The time of the last entry the document includes (when it was recorded)."""
    return doc["entries"][-1]["at"] if doc["entries"] else None


def happened(entry: Entry) -> str:
    """When what an entry records happened: its `occurred_at` (given with `at=`), else when it was recorded."""
    return entry.get("occurred_at") or entry["at"]


def by_happening(entries: list[Entry]) -> list[Entry]:
    """Entries in the order things happened, chain order among equals. Recording times never run backwards along
    the chain, so without any `at=` that is the chain order, kept as it is."""
    if not any("occurred_at" in e for e in entries):
        return entries
    return sorted(entries, key=lambda e: (parse_time(happened(e)), e["seq"]))
