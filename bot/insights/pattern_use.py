"""Patterns in an incident's life: suggested when it is declared, used to start a hypothesis, created from it; each
a PatternUse row and an entry in the incident's chain, and together the postmortem's "Patterns used / created"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.incident import hypotheses
from bot.insights.patterns import Card, card, cards
from bot.insights.related import related_records
from bot.postmortem import document
from bot.postmortem.doc_types import Doc, PatternRecord
from bot.record import chain
from storage.loop_tables import PatternUse
from storage.models import Hypothesis, Incident

HOW_ORDER = ("created", "used", "suggested")


async def _note(session: AsyncSession, incident: Incident, pattern_id: int, how: str, now: datetime) -> bool:
    """A PatternUse row unless the same one exists; whether it was added (the caller commits)."""
    existing = (await session.exec(select(PatternUse).where(PatternUse.pattern_id == pattern_id,
                                                            PatternUse.incident_id == incident.id,
                                                            PatternUse.how == how))).first()
    if existing is not None:
        return False
    assert incident.id is not None
    session.add(PatternUse(team_id=incident.team_id, pattern_id=pattern_id, incident_id=incident.id, how=how, at=now))
    return True


async def record_suggested(session: AsyncSession, *, incident: Incident, offered: Sequence[Card],
                           now: datetime) -> None:
    """Note the cards offered to an incident (`patterns_suggested` in its chain); commits."""
    assert incident.id is not None
    numbers = [c.number for c in offered if await _note(session, incident, c.pattern.id or 0, "suggested", now)]
    if numbers:
        await chain.append(session, incident_id=incident.id, kind="patterns_suggested", at=now,
                           text=", ".join(f"P{n}" for n in numbers), data={"numbers": numbers})
    await session.commit()


async def start_hypothesis(session: AsyncSession, *, incident: Incident, number: int, statement: str, actor: str,
                           now: datetime, at: datetime | None = None) -> tuple[Hypothesis, Card]:
    """`/retro hypothesis from=P<n>`: a new hypothesis with the card's cause (or the statement given) and the test
    plan that worked last time; the use is recorded (`pattern_used`); commits."""
    found = await card(session, incident.team_id, number)
    cause = found.pattern.hypothesis
    row = await hypotheses.propose(session, incident=incident, statement=statement or str(cause["statement"]),
                                   actor=actor, now=now, at=at)
    if cause.get("test_plan") and cause.get("expected"):
        row = await hypotheses.plan_test(session, incident=incident, number=row.number, plan=str(cause["test_plan"]),
                                         expected=str(cause["expected"]), criteria=cause.get("criteria"),
                                         actor=actor, now=now)
    assert incident.id is not None
    await _note(session, incident, found.pattern.id or 0, "used", now)
    await chain.append(session, incident_id=incident.id, kind="pattern_used", at=now, actor=actor,
                       text=found.pattern.name, data={"hypothesis": row.number, "number": number})
    await session.commit()
    return row, found


def _fixes(c: Card) -> list[str]:
    """How each mitigation was verified: its passing checks, stage by stage."""
    out = []
    for m in c.pattern.mitigations:
        passed = [f"{ch['stage']} ({ch['method']})" for ch in m.get("checks", []) if ch.get("outcome") == "pass"]
        out.append(f"A{m['number']} {m['title']}" + (f": passed at {', '.join(passed)}" if passed else ""))
    return out


def record_of(c: Card, how: str) -> PatternRecord:
    """A card as the incident document keeps it (keys in canonical order)."""
    cause = c.pattern.hypothesis
    return {"category": c.pattern.category, "fixes": _fixes(c), "how": how, "name": c.pattern.name,
            "number": c.number, "source": c.source, "statement": str(cause.get("statement") or ""),
            "test_plan": cause.get("test_plan"), "validated_at": iso(c.validated_at)}


async def pattern_records(session: AsyncSession, incident: Incident) -> list[PatternRecord]:
    """The patterns created in, used by or suggested to an incident, for its document: each card once, by how it
    mattered most (created, then used, then suggested), P1 first."""
    uses = (await session.exec(select(PatternUse).where(PatternUse.incident_id == incident.id)
                               .order_by(col(PatternUse.id)))).all()
    if not uses:
        return []
    by_id = {c.pattern.id: c for c in await cards(session, incident.team_id)}
    best: dict[int, str] = {}
    for u in uses:
        if u.pattern_id in by_id and (u.pattern_id not in best or
                                      HOW_ORDER.index(u.how) < HOW_ORDER.index(best[u.pattern_id])):
            best[u.pattern_id] = u.how
    return sorted((record_of(by_id[pid], how) for pid, how in best.items()), key=lambda r: r["number"])


def with_patterns(doc: Doc, records: list[PatternRecord]) -> Doc:
    """The document with its patterns, when there are any (a document without them reads and renders as before);
    top-level keys kept in canonical order."""
    return cast(Doc, dict(sorted({**doc, "patterns": records}.items()))) if records else doc


async def incident_document(session: AsyncSession, incident: Incident, *, catalog: Catalog,
                            people: dict[str, str] | None = None) -> Doc:
    """The postmortem document with what the insights add to it: earlier incidents like this one, and the patterns
    suggested, used or created here (the one place the draft, the export and the demo get it from)."""
    doc = await document.build(session, incident, catalog=catalog, people=people,
                               related=await related_records(session, incident, catalog))
    return with_patterns(doc, await pattern_records(session, incident))
