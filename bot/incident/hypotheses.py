"""The hypothesis ledger: H1, H2… with how each is tested and the verdict the evidence supports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.errors import ConflictError, NotFoundError, UsageError
from bot.incident.evidence import resolve_numbers
from bot.record import chain
from storage.core import table_of
from storage.models import Hypothesis, HypothesisVerdict, Incident
from storage.safetext import storable
from storage.types import UTCDateTime

VERDICTS = ("confirmed", "refuted", "inconclusive")
MAX_STATEMENT = 2000
MAX_PLAN = 3000
HYPOTHESIS_USAGE = "/retro hypothesis <statement> [at=<when>]"
TEST_USAGE = '/retro test H<n> <plan> expect="<expected outcome>" [criteria="<success criteria>"]'


@dataclass(frozen=True)
class Verdict:
    """What recording a verdict did: the hypothesis, the verdict it replaced (kept in the history; None for the
    first one) and whether it stamped the incident's time to insight."""

    hypothesis: Hypothesis
    previous: str
    insight_stamped: bool
    replaced: HypothesisVerdict | None = None


async def listing(session: AsyncSession, incident_id: int) -> list[Hypothesis]:
    """Every hypothesis of an incident, H1 first."""
    rows = await session.exec(select(Hypothesis).where(Hypothesis.incident_id == incident_id)
                              .order_by(col(Hypothesis.number)))
    return list(rows.all())


async def get(session: AsyncSession, incident_id: int, number: int) -> Hypothesis:
    """H<number> of the incident, or an error naming the ones that exist."""
    rows = await session.exec(select(Hypothesis).where(Hypothesis.incident_id == incident_id,
                                                       Hypothesis.number == number))
    found = rows.first()
    if found is not None:
        return found
    count = (await session.exec(select(func.count()).select_from(Hypothesis)
                                .where(Hypothesis.incident_id == incident_id))).one()
    known = f"H1–H{count}" if count > 1 else "H1" if count == 1 else "none yet"
    raise NotFoundError(f"No hypothesis H{number} in this incident (known: {known}).")


async def propose(session: AsyncSession, *, incident: Incident, statement: str, actor: str,
                  now: datetime, at: datetime | None = None) -> Hypothesis:
    """Record a new hypothesis as H<n>, proposed when it happened (`at`) or now; commits."""
    statement = storable(" ".join(statement.split()))
    if not statement:
        raise UsageError("A hypothesis needs a statement.", HYPOTHESIS_USAGE)
    if len(statement) > MAX_STATEMENT:
        raise UsageError(f"The statement is longer than {MAX_STATEMENT} characters.", HYPOTHESIS_USAGE)
    assert incident.id is not None
    number = await chain.bump_counter(session, incident.id, "hypothesis_seq")
    row = Hypothesis(team_id=incident.team_id,
                     incident_id=incident.id, number=number, statement=statement, proposed_by=actor,
                     proposed_at=at or now)
    session.add(row)
    await chain.append(session, incident_id=incident.id, kind="hypothesis_proposed", at=now, actor=actor,
                       text=statement, key_event=True, data={"number": number}, occurred_at=at)
    await session.commit()
    return row


async def plan_test(session: AsyncSession, *, incident: Incident, number: int, plan: str, expected: str,
                    criteria: str | None, actor: str, now: datetime) -> Hypothesis:
    """Record how H<n> will be tested and what outcome is expected; a new plan replaces the old one; commits."""
    plan, expected = storable(" ".join(plan.split())), storable(" ".join(expected.split()))
    criteria = storable(" ".join(criteria.split())) if criteria else None
    if not plan:
        raise UsageError("Describe how the hypothesis will be tested.", TEST_USAGE)
    if not expected:
        raise UsageError('Say what outcome you expect with expect="…".', TEST_USAGE)
    if max(len(plan), len(expected), len(criteria or "")) > MAX_PLAN:
        raise UsageError(f"Plan, expectation and criteria are limited to {MAX_PLAN} characters each.", TEST_USAGE)
    assert incident.id is not None
    row = await get(session, incident.id, number)
    previous = {"plan": row.test_plan, "expected": row.expected, "criteria": row.criteria} if row.test_plan else None
    row.test_plan, row.expected, row.criteria = plan, expected, criteria
    session.add(row)
    await chain.append(session, incident_id=incident.id, kind="hypothesis_test_planned", at=now, actor=actor,
                       text=plan, data={"number": number, "expected": expected, "criteria": criteria,
                                        "previous": previous, "after_verdict": row.verdict != "open"})
    await session.commit()
    return row


async def record_verdict(session: AsyncSession, *, incident: Incident, number: int, verdict: str,
                         evidence: list[int], note: str, actor: str, now: datetime,
                         at: datetime | None = None) -> Verdict:
    """Confirm, refute or call H<n> inconclusive with supporting evidence, reached when it happened (`at`) or now;
    the earliest confirmation stamps the incident's time to insight (withdrawn again if every confirmation is later
    reversed); commits."""
    if verdict not in VERDICTS:
        raise UsageError(f"Unknown verdict `{verdict}`.", f"/retro <{'|'.join(VERDICTS)}> H<n> [E<n> …] [note]")
    assert incident.id is not None
    row = await get(session, incident.id, number)
    # Lock the incident first, as every append does: a verdict given at the same time waits, then replaces this one.
    incidents = table_of(Incident)
    await session.exec(update(incidents).where(incidents.c.id == incident.id).values(id=incidents.c.id))
    await session.refresh(row)
    numbers = await resolve_numbers(session, incident.id, evidence)
    note = storable(note.strip())
    previous = row.verdict
    if previous == verdict and numbers == sorted(row.verdict_evidence) and not note:
        raise ConflictError(f"H{number} is already {verdict} with the same evidence; add evidence or a note.")
    replaced = (await history_of(session, row))[-1:]
    row.verdict, row.verdict_evidence, row.verdict_note = verdict, numbers, note or None
    row.verdict_by, row.verdict_at = actor, at or now
    session.add(row)
    assert row.id is not None
    session.add(HypothesisVerdict(team_id=row.team_id, incident_id=incident.id, hypothesis_id=row.id, number=number,
                                  seq=replaced[0].seq + 1 if replaced else 1, verdict=verdict, evidence=numbers,
                                  note=row.verdict_note, decided_by=actor, decided_at=at or now, recorded_at=now))
    await session.flush()
    before = incident.insight_at
    incident.insight_at = await _insight(session, incident.id, number, verdict, at or now)
    stamped = before is None and incident.insight_at is not None
    await chain.append(session, incident_id=incident.id, kind="hypothesis_verdict", at=now, actor=actor,
                       text=note or None, key_event=True,
                       data={"number": number, "verdict": verdict, "previous": previous, "evidence": numbers,
                             "insight_at": iso(incident.insight_at),
                             **({"replaces": replaced[0].verdict} if replaced else {})}, occurred_at=at)
    await session.commit()
    return Verdict(row, previous, stamped, replaced[0] if replaced else None)


async def history_of(session: AsyncSession, row: Hypothesis) -> list[HypothesisVerdict]:
    """Every verdict H<n> has had, the first first; the last is the one it holds now."""
    found = await session.exec(select(HypothesisVerdict).where(HypothesisVerdict.hypothesis_id == row.id)
                               .order_by(col(HypothesisVerdict.seq)))
    return list(found.all())


async def histories(session: AsyncSession, incident_id: int) -> dict[int, list[HypothesisVerdict]]:
    """Every verdict of every hypothesis of an incident, by H number, the first first."""
    found = await session.exec(select(HypothesisVerdict).where(HypothesisVerdict.incident_id == incident_id)
                               .order_by(col(HypothesisVerdict.number), col(HypothesisVerdict.seq)))
    out: dict[int, list[HypothesisVerdict]] = {}
    for v in found.all():
        out.setdefault(v.number, []).append(v)
    return out


async def _insight(session: AsyncSession, incident_id: int, number: int, verdict: str,
                   reached: datetime) -> datetime | None:
    """Set the incident's insight time in one statement (it also locks the row against a concurrent verdict): a
    confirmation reached before the one that set it, typed later with `at=`, moves it earlier."""
    table = table_of(Incident)
    if verdict == "confirmed":
        when = literal(reached, UTCDateTime())
        value: Any = case((or_(table.c.insight_at.is_(None), table.c.insight_at > when), when),
                          else_=table.c.insight_at)
    else:
        value = (select(func.min(Hypothesis.verdict_at))
                 .where(Hypothesis.incident_id == incident_id, Hypothesis.verdict == "confirmed",
                        Hypothesis.number != number).scalar_subquery())
    result = await session.exec(update(table).where(table.c.id == incident_id).values(insight_at=value)
                                   .returning(table.c.insight_at))
    stamped: datetime | None = result.scalar_one()
    return stamped
