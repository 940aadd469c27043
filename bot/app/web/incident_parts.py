"""Parts of the incident page: Slack text as plain pieces and safe links, times in the team's zone, and the
evidence (with its live digest check), hypotheses and actions as rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.app.web.incident_record import DraftVersion
from bot.incident.evidence import digest_of
from bot.postmortem.doc_types import Doc, EvidenceRecord
from bot.postmortem.document import parse_time
from bot.postmortem.escaping import Link, slack_segments
from bot.record.timeline import unescape_slack
from storage.models import Evidence as EvidenceRow

PNG = "image/png"
WEB_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Segment:
    """A piece of text, or a link (to http or https only) when `url` is set."""

    text: str
    url: str | None = None


def segments(text: str, people: dict[str, str]) -> list[Segment]:
    """Slack text as pieces: mentions by name, links kept only where they lead to a web page."""
    out = []
    for part in slack_segments(text, people):
        if isinstance(part, Link):
            url = part.url if part.url.startswith(WEB_SCHEMES) else None
            out.append(Segment(unescape_slack(part.label), url))
        elif part:
            out.append(Segment(unescape_slack(part)))
    return out


def ref_segments(ref: str) -> list[Segment]:
    """An evidence reference: a link when it is a web address (bare, or in Slack's `<url|label>` markup), else
    text."""
    if ref.startswith("<") and ref.endswith(">"):
        return segments(ref, {})
    return [Segment(ref, ref if ref.startswith(WEB_SCHEMES) else None)]


def when(at: str | datetime | None, tz: ZoneInfo) -> str:
    """A time of the record as people of the team read it."""
    moment = parse_time(at) if isinstance(at, str) or at is None else at
    return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _name(people: dict[str, str], uid: str | None) -> str:
    return "" if not uid else people.get(uid) or uid


@dataclass(frozen=True)
class Evidence:
    """An evidence item, its digest, and whether the digest holds now."""

    number: int
    kind: str
    ref: list[Segment]
    note: list[Segment]
    sha256: str
    status: str
    added_by: str
    added_at: str
    verifies: bool
    why: str
    charts: int


def chart_names(custody: dict[str, Any]) -> list[str]:
    """The PNG files of a collected artifact: the artifact itself when it is one, else its PNG members."""
    art = custody.get("artifact")
    if not isinstance(art, dict):
        return []
    if art.get("media_type") == PNG:
        return [str(art.get("name") or "chart.png")]
    members = art.get("members")
    return [str(m["name"]) for m in members or [] if isinstance(m, dict) and m.get("media_type") == PNG
            and isinstance(m.get("name"), str)]


def row_of(item: EvidenceRecord) -> EvidenceRow:
    """The evidence row a document's record was read from (without its artifact), for recomputing its digest."""
    return EvidenceRow.model_construct(
        incident_id=item["incident_id"], number=item["number"], kind=item["kind"], ref=item["ref"], note=item["note"],
        options=item["options"], added_by=item["added_by"], added_at=datetime.fromisoformat(item["added_at"]),
        file_id=item["file_id"], file_sha256=item["file_sha256"], status=item["status"], custody=item["custody"],
        media_type=item["media_type"], artifact_path=item["artifact_path"])


def check(item: EvidenceRecord, chained: dict[int, str]) -> tuple[bool, str]:
    """Whether the item's content still has its SHA-256, and that digest is the one chained when it was added."""
    if digest_of(row_of(item)) != item["sha256"]:
        return False, "its content no longer matches its SHA-256"
    if item["number"] not in chained:
        return False, "no digest was chained when it was added"
    if chained[item["number"]] != item["sha256"]:
        return False, "its SHA-256 differs from the one chained when it was added"
    return True, "content matches its SHA-256, and the chain holds the same digest"


def evidence_of(doc: Doc, chained: dict[int, str], tz: ZoneInfo, people: dict[str, str]) -> list[Evidence]:
    """Every evidence item with a fresh check of its digest."""
    out = []
    for item in doc["evidence"]:
        ok, why = check(item, chained)
        charts = len(chart_names(item["custody"])) if item["status"] == "ok" else 0
        out.append(Evidence(item["number"], item["kind"], ref_segments(item["ref"]), segments(item["note"], people),
                            item["sha256"], item["status"], _name(people, item["added_by"]),
                            when(item["added_at"], tz), ok, why, charts))
    return out


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis, how it is tested, and where it stands."""

    number: int
    statement: list[Segment]
    test_plan: list[Segment]
    expected: list[Segment]
    criteria: list[Segment]
    verdict: str
    verdict_by: str
    verdict_at: str
    verdict_note: list[Segment]
    evidence: list[int]
    earlier: list[str]


def hypotheses_of(doc: Doc, tz: ZoneInfo, people: dict[str, str]) -> list[Hypothesis]:
    """The hypothesis ledger, H1 first."""
    out = []
    for h in doc["hypotheses"]:
        earlier = [f"{v['verdict']} ({when(v['decided_at'], tz)}, {_name(people, v['decided_by'])})"
                   for v in h.get("earlier_verdicts", [])]
        out.append(Hypothesis(h["number"], segments(h["statement"], people), segments(h["test_plan"] or "", people),
                              segments(h["expected"] or "", people), segments(h["criteria"] or "", people),
                              h["verdict"], _name(people, h["verdict_by"]), when(h["verdict_at"], tz),
                              segments(h["verdict_note"] or "", people), list(h["verdict_evidence"]), earlier))
    return out


@dataclass(frozen=True)
class Action:
    """An action item and, for a mitigation, how far its verification went."""

    number: int
    title: list[Segment]
    owner: str
    due: str
    kind: str
    status: str
    verification: str
    hypothesis: int | None


def actions_of(doc: Doc, states: dict[int, str], people: dict[str, str]) -> list[Action]:
    """The action items, A1 first (verification: '' for kinds that are not mitigations)."""
    return [Action(a["number"], segments(a["title"], people), _name(people, a["owner"]), a["due"], a["kind"],
                   a["status"], states.get(a["number"], ""), a["hypothesis"]) for a in doc["actions"]]


@dataclass(frozen=True)
class Draft:
    """A stored version of the postmortem, as listed."""

    version: int
    by: str
    at: str
    sha256: str


def drafts_of(versions: list[DraftVersion], tz: ZoneInfo, people: dict[str, str]) -> list[Draft]:
    """The stored drafts, newest first, with names and local times."""
    return [Draft(d.version, _name(people, d.drafted_by), when(d.drafted_at, tz), d.sha256) for d in versions]
