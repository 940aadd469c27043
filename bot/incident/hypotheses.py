"""The hypothesis ledger: H1, H2… with how each is tested and the verdict the evidence supports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.errors import ConflictError, NotFoundError, UsageError
from bot.incident.evidence import resolve_numbers
from bot.record import chain
from storage.core import table_of
from storage.models import Hypothesis, Incident
from storage.safetext import storable

VERDICTS = ("confirmed", "refuted", "inconclusive")
MAX_STATEMENT = 2000
MAX_PLAN = 3000
HYPOTHESIS_USAGE = "/retro hypothesis <statement>"
TEST_USAGE = '/retro test H<n> <plan> expect="<expected outcome>" [criteria="<success criteria>"]'


@dataclass(frozen=True)
class Verdict:
    """What recording a verdict did: the hypothesis, and whether it stamped the incident's time to insight."""

    hypothesis: Hypothesis
    previous: str
    insight_stamped: bool


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
                  now: datetime) -> Hypothesis:
    """Record a new hypothesis as H<n>; commits."""
    statement = storable(" ".join(statement.split()))
    if not statement:
        raise UsageError("A hypothesis needs a statement.", HYPOTHESIS_USAGE)
    if len(statement) > MAX_STATEMENT:
        raise UsageError(f"The statement is longer than {MAX_STATEMENT} characters.", HYPOTHESIS_USAGE)
    assert incident.id is not None
    number = await chain.bump_counter(session, incident.id, "hypothesis_seq")
    row = Hypothesis(team_id=incident.team_id,
                     incident_id=incident.id, number=number, statement=statement, proposed_by=actor,
                     proposed_at=now)
    session.add(row)
    await chain.append(session, incident_id=incident.id, kind="hypothesis_proposed", at=now, actor=actor,
                       text=statement, key_event=True, data={"number": number})
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
                         evidence: list[int], note: str, actor: str, now: datetime) -> Verdict:
    """Confirm, refute or call H<n> inconclusive with supporting evidence; the first confirmation stamps the
    incident's time to insight (withdrawn again if every confirmation is later reversed); commits."""
    if verdict not in VERDICTS:
        raise UsageError(f"Unknown verdict `{verdict}`.", f"/retro <{'|'.join(VERDICTS)}> H<n> [E<n> …] [note]")
    assert incident.id is not None
    row = await get(session, incident.id, number)
    numbers = await resolve_numbers(session, incident.id, evidence)
    note = storable(note.strip())
    previous = row.verdict
    if previous == verdict and numbers == sorted(row.verdict_evidence) and not note:
        raise ConflictError(f"H{number} is already {verdict} with the same evidence; add evidence or a note.")
    row.verdict, row.verdict_evidence, row.verdict_note = verdict, numbers, note or None
    row.verdict_by, row.verdict_at = actor, now
    session.add(row)
    await session.flush()
    before = incident.insight_at
    incident.insight_at = await _insight(session, incident.id, number, verdict, now)
    stamped = before is None and incident.insight_at is not None
    await chain.append(session, incident_id=incident.id, kind="hypothesis_verdict", at=now, actor=actor,
                       text=note or None, key_event=True,
                       data={"number": number, "verdict": verdict, "previous": previous, "evidence": numbers,
                             "insight_at": iso(incident.insight_at)})
    await session.commit()
    return Verdict(row, previous, stamped)


async def _insight(session: AsyncSession, incident_id: int, number: int, verdict: str,
                   now: datetime) -> datetime | None:
    """Set the incident's insight time in one statement (it also locks the row against a concurrent verdict)."""
    table = table_of(Incident)
    if verdict == "confirmed":
        value: Any = func.coalesce(table.c.insight_at, now)
    else:
        value = (select(func.min(Hypothesis.verdict_at))
                 .where(Hypothesis.incident_id == incident_id, Hypothesis.verdict == "confirmed",
                        Hypothesis.number != number).scalar_subquery())
    result = await session.exec(update(table).where(table.c.id == incident_id).values(insight_at=value)
                                   .returning(table.c.insight_at))
    stamped: datetime | None = result.scalar_one()
    return stamped
