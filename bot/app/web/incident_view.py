"""The incident page's view model: plain values, built from the record and the domain, that the template lays out
(every text in it is escaped there; the picture's SVG is escaped where it is drawn)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app.web import incident_record as record
from bot.app.web.incident_parts import (
    Action,
    Draft,
    Evidence,
    Hypothesis,
    Segment,
    actions_of,
    drafts_of,
    evidence_of,
    hypotheses_of,
    segments,
    when,
)
from bot.app.web.incident_picture import drawn_events, picture
from bot.catalog import Catalog
from bot.followup.verification import action_states
from bot.postmortem import document
from bot.postmortem.doc_types import Doc, Entry, IncidentHeader
from bot.postmortem.document import happened
from bot.postmortem.measures import MILESTONES, SPANS, humanise, milestone_texts, milestone_times, span_status
from bot.postmortem.story import key_timeline
from storage.models import Incident


@dataclass(frozen=True)
class Fact:
    """A labelled value of the header."""

    label: str
    value: str


@dataclass(frozen=True)
class Row:
    """A line of a timeline: when (and when recorded, if later), who, what kind, the words."""

    when: str
    who: str
    kind: str
    words: list[Segment]
    recorded: str = ""
    seq: int | None = None
    number: int | None = None
    milestone: str = ""


@dataclass(frozen=True)
class Role:
    """A role held, or held until a hand-over."""

    role: str
    who: str
    since: str
    until: str


@dataclass
class IncidentView:
    """Everything the incident page shows."""

    id: int
    title: str
    description: str
    channel: str
    status: str
    severity: str
    category: str
    models: list[str]
    private: bool
    timezone: str
    facts: list[Fact]
    milestones: list[Fact]
    spans: list[Fact]
    picture: Markup
    statuses: list[Row] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    past_roles: list[Role] = field(default_factory=list)
    key_events: list[Row] = field(default_factory=list)
    entries: list[Row] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    evidence: list[Evidence] = field(default_factory=list)
    hypotheses: list[Hypothesis] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)

    def who(self, uid: str | None) -> str:
        """A person by the name Retro keeps, else by user id."""
        return "" if not uid else self.people.get(uid) or uid


def _name(people: dict[str, str], uid: str | None) -> str:
    return "" if not uid else people.get(uid) or uid


def entry_row(e: Entry, tz: ZoneInfo, people: dict[str, str]) -> Row:
    """A chain entry as a line of the full timeline."""
    at = happened(e)
    words = segments(e["text"] or "", people)
    if e["kind"] == "status_changed":
        words = [Segment(f"{e['data'].get('from')} → {e['data'].get('to')}" + (": " if e["text"] else "")), *words]
    return Row(when(at, tz), _name(people, e["actor"]), e["kind"].replace("_", " "), words,
               when(e["at"], tz) if at != e["at"] else "", e["seq"])


def _header(doc: Doc, tz: ZoneInfo, people: dict[str, str]) -> tuple[list[Fact], list[Fact], list[Fact]]:
    inc = doc["incident"]
    facts = [Fact("Declared by", _name(people, inc["declared_by"])), Fact("Declared at", when(inc["created_at"], tz)),
             Fact("Channel", f"#{inc['channel_name']}"), Fact("Models", ", ".join(inc["models"]) or "none named")]
    milestones = [Fact(label.capitalize(), when(at, tz) if at else "not recorded")
                  for key, at in milestone_texts(doc).items() if (label := MILESTONES[key])]
    times = milestone_times(doc)
    spans = []
    for spec in SPANS:
        seconds, missing = span_status(spec, times)
        spans.append(Fact(spec.label, humanise(seconds) if seconds is not None else f"— ({missing})"))
    return facts, milestones, spans


def _statuses(doc: Doc, tz: ZoneInfo, people: dict[str, str]) -> list[Row]:
    rows = []
    for e in doc["entries"]:
        if e["kind"] == "declared":
            rows.append(Row(when(happened(e), tz), _name(people, e["actor"]), "declared",
                            [Segment(str(e["data"].get("status") or "investigating"))], seq=e["seq"]))
        elif e["kind"] == "status_changed":
            rows.append(entry_row(e, tz, people))
    return rows


def _roles(doc: Doc, tz: ZoneInfo, people: dict[str, str]) -> tuple[list[Role], list[Role]]:
    named = {r["id"]: r["name"] for r in doc["labels"]["roles"]}
    held = [Role(named.get(r["role"], r["role"]), _name(people, r["user_id"]), when(r["assigned_at"], tz),
                 when(r["ended_at"], tz) if r["ended_at"] else "") for r in doc["roles"]]
    return [r for r in held if not r.until], [r for r in held if r.until]


def _key_events(doc: Doc, tz: ZoneInfo, people: dict[str, str]) -> list[Row]:
    numbers = {d.moment: d.number for d in drawn_events(doc)}
    return [Row(when(m.at, tz), _name(people, m.actor), m.kind.replace("_", " "), segments(m.text, people),
                when(m.recorded, tz) if m.recorded else "", m.seq, numbers.get(m), m.milestone or "")
            for m in key_timeline(doc)]


async def story_document(session: AsyncSession, incident: Incident, catalog: Catalog) -> Doc:
    """The incident document with only the entries its story reads (header counts as recorded), without names."""
    doc = await document.build(session, incident, catalog=catalog, entries=await record.story_entries(session,
                                                                                                       incident))
    head: IncidentHeader = {**doc["incident"], "entry_count": incident.entry_count, "head_hash": incident.head_hash}
    return {**doc, "incident": head}


NameLookup = Callable[[set[str]], Awaitable[dict[str, str]]]
MAX_ASKED = 50  # people Slack is asked to name for one page view


async def build_view(session: AsyncSession, incident: Incident, catalog: Catalog, page: int,
                     ask: NameLookup | None = None) -> IncidentView:
    """Read and shape everything the incident page shows (the full timeline: page `page`, of 100 entries); people
    Retro has no name for are asked of Slack with `ask` (at most MAX_ASKED per view)."""
    assert incident.id is not None
    doc = await story_document(session, incident, catalog)
    pages = record.page_count(incident)
    page = min(max(1, page), pages)
    entries = await record.entry_page(session, incident, page)
    people = await record.people(session, incident, set(document.user_ids(doc)), entries)
    unnamed = (set(document.user_ids(doc)) | {e["actor"] for e in entries if e["actor"]}) - set(people)
    if ask is not None and unnamed:
        people = {**people, **await ask(set(sorted(unnamed)[:MAX_ASKED]))}
    doc = document.with_people(doc, people)
    tz = ZoneInfo(doc["timezone"])
    facts, milestones, spans = _header(doc, tz, people)
    current, past = _roles(doc, tz, people)
    states = await action_states(session, incident.id, kinds=catalog.verify.kinds)
    inc = doc["incident"]
    return IncidentView(
        id=incident.id, title=inc["title"], description=inc["description"], channel=inc["channel_name"],
        status=inc["status"], severity=doc["labels"]["severity"], category=doc["labels"]["category"],
        models=inc["models"], private=inc["private"], timezone=doc["timezone"], facts=facts, milestones=milestones,
        spans=spans, picture=picture(doc, people), statuses=_statuses(doc, tz, people), roles=current,
        past_roles=past, key_events=_key_events(doc, tz, people), entries=[entry_row(e, tz, people) for e in entries],
        page=page, pages=pages,
        evidence=evidence_of(doc, await record.chained_evidence(session, incident), tz, people),
        hypotheses=hypotheses_of(doc, tz, people), actions=actions_of(doc, states, people),
        drafts=drafts_of(await record.draft_versions(session, incident.id), tz, people), people=people)
