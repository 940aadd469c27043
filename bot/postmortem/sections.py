"""What the postmortem templates see: the incident document arranged into sections (a pure function of it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict, cast

from bot.incident.evidence import reproduction_context
from bot.postmortem.doc_types import (
    ActionRecord,
    Doc,
    Entry,
    EvidenceRecord,
    HypothesisRecord,
    IncidentHeader,
    Labels,
    PatternRecord,
    RecurrenceRecord,
    RelatedRecord,
    RoleRecord,
    TriageRecord,
    VerdictRecord,
)
from bot.postmortem.document import as_of, by_happening, happened, key_seqs
from bot.postmortem.entry_text import describe
from bot.postmortem.escaping import slack_to_text
from bot.postmortem.learning import LessonGroup, Marked, factors, lessons, trigger
from bot.postmortem.measures import Metrics, Span, incident_metrics
from bot.postmortem.review import KINDS as REVIEW_KINDS
from bot.postmortem.review import state_of
from bot.postmortem.story import Moment, SeverityPath, full_log, key_timeline, resolution, severity_path
from storage.models import Evidence

REPRO_LABELS = (("models", "Model versions"), ("datasets", "Data snapshots"), ("flags", "Feature flags"),
                ("deploys", "Deploys"), ("commits", "Commits"), ("configs", "Configuration"),
                ("time_ranges", "Time ranges"))
VERDICT_ORDER = ("confirmed", "refuted", "inconclusive", "open")


def slack_to_markdown(text: str, people: dict[str, str]) -> str:
    """Slack markup as readable text: mentions by name, links as `[label](url)`, `<` as `&lt;`; not escaped (the
    timeline picture draws it; the postmortem escapes user text with bot.postmortem.escaping)."""
    return slack_to_text(text, people)


@dataclass(frozen=True, slots=True)
class Line:
    """One timeline entry as the templates show it (an object: attribute lookups in templates stay cheap): `at` is
    when it happened, `recorded` when it was recorded if that was another time (given with `at=`)."""

    seq: int
    at: str
    actor: str | None
    kind: str
    thread: bool
    key: bool
    text: str
    recorded: str | None = None


class RoleRow(TypedDict):
    """A role of the catalog (or one only this incident used) and who holds it now."""

    id: str
    name: str
    user: str | None


class TriageRow(TypedDict):
    """One field of the triage template: its question and the submitted answer."""

    key: str
    label: str
    value: str | None


class TriageSection(TriageRecord):
    """The last triage submission with a row per template field, in the template's order."""

    rows: list[TriageRow]


class EarlierVerdict(VerdictRecord):
    """A verdict a later one replaced, with its evidence as text (`E1, E2`)."""

    evidence_refs: str


class HypothesisView(HypothesisRecord):
    """A hypothesis with the evidence of its verdict as text (`E1, E2`), and the verdicts it replaced (`earlier`,
    the first first; empty when it never changed)."""

    evidence_refs: str
    earlier: list[EarlierVerdict]


class ReproRow(TypedDict):
    """What the evidence recorded of one kind of reproduction detail (model versions, snapshots, …)."""

    label: str
    found: list[str]


class ReviewerRow(TypedDict):
    """A reviewer and their latest word (`verdict` None while they have not answered)."""

    user: str
    verdict: str | None
    version: int | None
    at: str | None
    note: str | None


class ReviewView(TypedDict):
    """The postmortem's owner, reviewers and review status (bot.postmortem.review)."""

    owner: str | None
    status: str
    reviewers: list[ReviewerRow]


class ChainInfo(TypedDict):
    """The chain the draft was rendered from."""

    head: str
    count: int


class TemplateContext(TypedDict):
    """What the postmortem templates see (docs/postmortem-and-export.md describes it for team templates)."""

    doc: Doc
    incident: IncidentHeader
    labels: Labels
    timezone: str
    people: dict[str, str]
    roles: list[RoleRow]
    role_history: list[RoleRecord]
    triage: TriageSection | None
    entries: list[Line]
    key_events: list[Line]
    evidence: list[EvidenceRecord]
    hypotheses: list[HypothesisView]
    confirmed: list[HypothesisView]
    root_cause: HypothesisView | None
    contributing: list[HypothesisView]
    actions: list[ActionRecord]
    metrics: Metrics
    spans: dict[str, Span]
    repro: list[ReproRow]
    chain: ChainInfo
    as_of: str | None
    format: str
    key_timeline: list[Moment]
    log: list[Line]
    log_hidden: int
    lessons: list[LessonGroup]
    trigger: Marked | None
    factors: list[Marked]
    related: list[RelatedRecord]
    recurrences: list[RecurrenceRecord]  # empty for a document without confirmed recurrences
    patterns: list[PatternRecord]  # present in the document only when a pattern met the incident
    review: ReviewView
    severity: SeverityPath
    resolution: list[Moment]


def _line(entry: Entry, doc: Doc, key: set[int]) -> Line:
    at = happened(entry)
    return Line(entry["seq"], at, entry["actor"], entry["kind"], entry["thread_ts"] is not None,
                entry["seq"] in key, describe(entry, doc), None if at == entry["at"] else entry["at"])


def _other_bot(line: Line) -> Line:
    """A bot's post that is not one of Retro's announcements, labelled as a bot's (the log leaves Retro's out)."""
    if line.kind == "bot_message" and line.text.startswith("(Retro) "):
        return replace(line, text="(bot) " + line.text.removeprefix("(Retro) "))
    return line


def _evidence_rows(doc: Doc) -> list[Evidence]:
    """Unsaved rows holding what reproduction_context reads (the rest of a row is not needed)."""
    rows = []
    for e in doc["evidence"]:
        read: dict[str, Any] = {"number": e["number"], "kind": e["kind"], "ref": e["ref"], "options": e["options"],
                                "status": e["status"]}
        rows.append(Evidence(**read))
    return rows


def _refs(numbers: list[int]) -> str:
    return ", ".join(f"E{n}" for n in numbers)


def _hypotheses(doc: Doc) -> list[HypothesisView]:
    return [{**h, "evidence_refs": _refs(h["verdict_evidence"]),
             "earlier": [{**v, "evidence_refs": _refs(v["evidence"])} for v in h.get("earlier_verdicts", [])]}
            for h in doc["hypotheses"]]


def _triage(doc: Doc) -> TriageSection | None:
    if doc["triage"] is None:
        return None
    answers = cast(Mapping[str, str | None], doc["triage"]["fields"])  # keyed like the labels' triage fields
    rows: list[TriageRow] = [{"key": f["key"], "label": f["label"], "value": answers.get(f["key"])}
                             for f in doc["labels"]["triage"]]
    return {**doc["triage"], "rows": rows}


def _review(doc: Doc) -> ReviewView:
    rows = ((e["kind"], e["actor"], e["data"], e["text"], e["at"])
            for e in doc["entries"] if e["kind"] in REVIEW_KINDS)
    state = state_of(rows, drafted=any(e["kind"] == "postmortem_drafted" for e in doc["entries"]))
    reviewers: list[ReviewerRow] = []
    for uid in state.reviewers:
        word = state.words.get(uid)
        reviewers.append({"user": uid, "verdict": word.verdict if word else None,
                          "version": word.version if word else None, "at": word.at if word else None,
                          "note": word.note if word else None})
    return {"owner": state.owner, "status": state.status, "reviewers": reviewers}


def context(doc: Doc) -> TemplateContext:
    """The template context: the document itself plus its sections, metrics and reproduction details."""
    inc = doc["incident"]
    entries = doc["entries"]
    key = key_seqs(entries)
    lines = [_line(e, doc, key) for e in by_happening(entries)]
    held = {r["role"]: r["user_id"] for r in doc["roles"] if r["ended_at"] is None}
    roles: list[RoleRow] = [{"id": r["id"], "name": r["name"], "user": held.get(r["id"])}
                            for r in doc["labels"]["roles"]]
    roles += [{"id": rid, "name": rid, "user": uid} for rid, uid in sorted(held.items())
              if rid not in {r["id"] for r in doc["labels"]["roles"]}]
    hypotheses = _hypotheses(doc)
    confirmed = sorted((h for h in hypotheses if h["verdict"] == "confirmed"),
                       key=lambda h: (h["verdict_at"] or "", h["number"]))
    the_trigger = trigger(doc)
    trigger_of = the_trigger["hypothesis"]["number"] if the_trigger and the_trigger["hypothesis"] else None
    causes = [h for h in confirmed if h["number"] != trigger_of]  # a hypothesis marked as the trigger is not the cause
    log, hidden = full_log(doc)
    kept = {e["seq"] for e in log}
    repro = reproduction_context(_evidence_rows(doc))
    metrics = incident_metrics(doc)
    return {
        "doc": doc,
        "incident": inc,
        "labels": doc["labels"],
        "timezone": doc["timezone"],
        "people": doc["people"],
        "roles": roles,
        "role_history": doc["roles"],
        "triage": _triage(doc),
        "entries": lines,
        "key_events": [line for line in lines if line.key],
        "evidence": doc["evidence"],
        "hypotheses": sorted(hypotheses, key=lambda h: (VERDICT_ORDER.index(h["verdict"])
                                                       if h["verdict"] in VERDICT_ORDER else 9, h["number"])),
        "confirmed": confirmed,
        "root_cause": causes[0] if causes else None,
        "contributing": causes[1:],
        "actions": doc["actions"],
        "metrics": metrics,
        "spans": {s["key"]: s for s in metrics["spans"]},
        "repro": [{"label": label, "found": repro[k]} for k, label in REPRO_LABELS if repro[k]],
        "chain": {"head": inc["head_hash"], "count": inc["entry_count"]},
        "as_of": as_of(doc),
        "format": doc["format"],
        "key_timeline": key_timeline(doc),
        "log": [_other_bot(line) for line in lines if line.seq in kept],
        "log_hidden": hidden,
        "lessons": lessons(doc),
        "trigger": the_trigger,
        "factors": factors(doc, causes[0]["number"] if causes else None, trigger_of),
        "related": doc.get("related", []),
        "recurrences": doc.get("recurrences", []),
        "patterns": doc.get("patterns", []),
        "review": _review(doc),
        "severity": severity_path(doc),
        "resolution": resolution(doc),
    }
