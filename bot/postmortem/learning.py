"""What the team learned, as the postmortem states it: lessons (what went well, what went wrong, where we got lucky),
the trigger (apart from the root cause) and the contributing factors.

People record them in the channel, during the incident or after it, and each is a chain entry:
`/retro lesson well|wrong|lucky <text>` (`lesson`), `/retro trigger <text>|H<n> [at=<when>]` (`trigger`, a key
event; the latest one is the trigger) and `/retro factor <text>|H<n>` (`contributing_factor`). The sections are pure
functions of the incident document.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import NotFoundError, UsageError
from bot.postmortem.doc_types import Doc, HypothesisRecord
from bot.postmortem.document import happened
from bot.record import chain
from storage.models import Hypothesis, Incident

LESSON = "lesson"
TRIGGER = "trigger"
FACTOR = "contributing_factor"
LESSON_KINDS = {"well": "What went well", "wrong": "What went wrong", "lucky": "Where we got lucky"}
LESSON_USAGE = "/retro lesson <well|wrong|lucky> <text>"
MAX_TEXT = 3000


async def _hypothesis(session: AsyncSession, incident: Incident, number: int | None, usage: str) -> None:
    if number is None:
        return
    found = (await session.exec(select(Hypothesis).where(Hypothesis.incident_id == incident.id,
                                                         Hypothesis.number == number))).first()
    if found is None:
        raise NotFoundError(f"There is no H{number} in this incident (`/retro hypotheses` lists them).")


def _text(text: str, usage: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise UsageError(f"Say {what}.", usage)
    if len(text) > MAX_TEXT:
        raise UsageError(f"Keep it under {MAX_TEXT} characters.", usage)
    return text


async def add_lesson(session: AsyncSession, *, incident: Incident, kind: str, text: str, actor: str,
                     now: datetime) -> chain.Chained:
    """Record a lesson of one kind (well, wrong, lucky); commits."""
    assert incident.id is not None
    if kind not in LESSON_KINDS:
        raise UsageError(f"A lesson is `well`, `wrong` or `lucky`, not `{kind[:30]}`.", LESSON_USAGE)
    entry = await chain.append(session, incident_id=incident.id, kind=LESSON, at=now, actor=actor,
                               text=_text(text, LESSON_USAGE, "what the team learned"), data={"kind": kind})
    await session.commit()
    return entry


async def mark(session: AsyncSession, *, incident: Incident, kind: str, text: str, hypothesis: int | None,
               actor: str, now: datetime, at: datetime | None, usage: str) -> chain.Chained:
    """Record the trigger (`trigger`, a key event, when it happened) or a contributing factor (`contributing_factor`),
    in words or as a hypothesis of the ledger; commits."""
    assert incident.id is not None and kind in (TRIGGER, FACTOR)
    await _hypothesis(session, incident, hypothesis, usage)
    if hypothesis is None:
        text = _text(text, usage, "what it was")
    entry = await chain.append(session, incident_id=incident.id, kind=kind, at=now, actor=actor,
                               text=text.strip() or None, key_event=kind == TRIGGER, data={"hypothesis": hypothesis},
                               occurred_at=at)
    await session.commit()
    return entry


class LessonRow(TypedDict):
    """A lesson as the postmortem lists it."""

    text: str
    by: str | None
    at: str


class LessonGroup(TypedDict):
    """The lessons of one kind."""

    kind: str
    label: str
    rows: list[LessonRow]


class Marked(TypedDict):
    """The trigger or a contributing factor: its words, the hypothesis it names (if any), who said so and when."""

    text: str | None
    hypothesis: HypothesisRecord | None
    by: str | None
    at: str
    timed: bool
    source: str
    evidence: str


def lessons(doc: Doc) -> list[LessonGroup]:
    """Lessons by kind, in the order well, wrong, lucky; each kind listed even when empty."""
    rows: dict[str, list[LessonRow]] = {k: [] for k in LESSON_KINDS}
    for e in doc["entries"]:
        kind = e["data"].get("kind")
        if e["kind"] == LESSON and isinstance(kind, str) and kind in rows:
            rows[kind].append({"text": e["text"] or "", "by": e["actor"], "at": e["at"]})
    return [{"kind": k, "label": label, "rows": rows[k]} for k, label in LESSON_KINDS.items()]


def _refs(h: HypothesisRecord | None) -> str:
    return ", ".join(f"E{n}" for n in h["verdict_evidence"]) if h else ""


def _marked(doc: Doc, kind: str) -> list[Marked]:
    by_number = {h["number"]: h for h in doc["hypotheses"]}
    out: list[Marked] = []
    for e in doc["entries"]:
        if e["kind"] != kind:
            continue
        number = e["data"].get("hypothesis")
        h = by_number.get(number) if isinstance(number, int) else None
        out.append({"text": e["text"], "hypothesis": h, "by": e["actor"], "at": happened(e),
                    "timed": "occurred_at" in e, "source": f"H{h['number']}, {h['verdict']}" if h else "noted",
                    "evidence": _refs(h)})
    return out


def trigger(doc: Doc) -> Marked | None:
    """The trigger: the latest one recorded (an earlier one it replaces stays in the appendix)."""
    found = _marked(doc, TRIGGER)
    return found[-1] if found else None


def factors(doc: Doc, root_cause: int | None, trigger_of: int | None) -> list[Marked]:
    """Contributing factors: confirmed hypotheses other than the root cause and the trigger, inconclusive ones (which
    may have contributed), then the factors people noted (in words or by hypothesis), each once."""
    out: list[Marked] = []
    seen: set[int] = {n for n in (root_cause, trigger_of) if n is not None}
    for verdict in ("confirmed", "inconclusive"):
        for h in sorted(doc["hypotheses"], key=lambda h: h["number"]):
            if h["verdict"] == verdict and h["number"] not in seen:
                seen.add(h["number"])
                out.append({"text": None, "hypothesis": h, "by": h["verdict_by"], "at": h["verdict_at"] or "",
                            "timed": False, "source": f"H{h['number']}, {verdict}", "evidence": _refs(h)})
    for m in _marked(doc, FACTOR):
        named = m["hypothesis"]
        if named is not None and named["number"] in seen and not m["text"]:
            continue
        if named is not None:
            seen.add(named["number"])
        out.append(m)
    return out
