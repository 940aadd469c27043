"""A recorded ML incident built through the domain services, for postmortem, export and metrics tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog, load_catalog
from bot.incident import evidence, incidents, lifecycle, roles, triage
from bot.postmortem.doc_types import Doc
from bot.postmortem.document import build
from bot.record import chain, timeline
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import ActionItem, Hypothesis, Incident

T0 = datetime(2026, 3, 12, 13, 0, tzinfo=UTC)
TEAM = "T0TEST"
ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
PEOPLE = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}


@dataclass
class World:
    """A migrated database and the team configuration."""

    sessions: SessionFactory
    catalog: Catalog

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session on the world's database."""
        async with self.sessions() as s:
            yield s


@asynccontextmanager
async def world(database_url: str, catalog: Catalog | None = None) -> AsyncIterator[World]:
    """Hand out sessions on an already migrated database (the `database_url` fixture gives one)."""
    engine = create_engine(database_url)
    try:
        yield World(session_factory(engine), catalog or load_catalog())
    finally:
        await engine.dispose()


async def add_hypothesis(s: AsyncSession, incident: Incident, statement: str, *, by: str, at: datetime,
                         verdict: str = "open", test_plan: str | None = None, expected: str | None = None,
                         note: str | None = None, evidence_numbers: list[int] | None = None) -> Hypothesis:
    """A hypothesis row with its chain entries (as the ledger records them)."""
    assert incident.id is not None
    number = await chain.bump_counter(s, incident.id, "hypothesis_seq")
    row = Hypothesis(team_id=incident.team_id,
                     incident_id=incident.id, number=number, statement=statement, proposed_by=by, proposed_at=at,
                     test_plan=test_plan, expected=expected, verdict=verdict, verdict_note=note,
                     verdict_evidence=evidence_numbers or [], verdict_by=by if verdict != "open" else None,
                     verdict_at=at + timedelta(minutes=10) if verdict != "open" else None)
    s.add(row)
    await chain.append(s, incident_id=incident.id, kind="hypothesis_proposed", at=at, actor=by, text=statement,
                       key_event=True, data={"number": number})
    if test_plan is not None:
        await chain.append(s, incident_id=incident.id, kind="hypothesis_test_planned", at=at, actor=by,
                           text=test_plan, data={"number": number, "expected": expected, "criteria": None,
                                                 "previous": None, "after_verdict": False})
    if verdict != "open":
        await chain.append(s, incident_id=incident.id, kind="hypothesis_verdict", at=at + timedelta(minutes=10),
                           actor=by, text=note, key_event=True,
                           data={"number": number, "verdict": verdict, "previous": "open",
                                 "evidence": evidence_numbers or [], "insight_at": None})
    await s.commit()
    return row


async def add_action(s: AsyncSession, incident: Incident, title: str, *, owner: str, due: date, kind: str,
                     at: datetime, hypothesis: int | None = None) -> ActionItem:
    """An action item row with its chain entry."""
    assert incident.id is not None
    number = await chain.bump_counter(s, incident.id, "action_seq")
    row = ActionItem(team_id=incident.team_id, incident_id=incident.id, number=number, title=title, owner=owner,
                     due=due, kind=kind, hypothesis=hypothesis, created_by=ALICE, created_at=at)
    s.add(row)
    await chain.append(s, incident_id=incident.id, kind="action_added", at=at, actor=ALICE, text=title,
                       key_event=True, data={"number": number, "owner": owner, "due": due.isoformat(), "kind": kind,
                                             "hypothesis": hypothesis})
    await s.commit()
    return row


async def close_action(s: AsyncSession, row: ActionItem, *, at: datetime, status: str = "done") -> None:
    """Mark an action item done (or dropped) and chain it."""
    row.status, row.closed_at = status, at
    s.add(row)
    await chain.append(s, incident_id=row.incident_id, kind=f"action_{status}", at=at, actor=row.owner,
                       data={"number": row.number})
    await s.commit()


async def fraud_incident(w: World, *, start: datetime = T0, messages: int = 6, title: str | None = None,
                         models: tuple[str, ...] = ("fraud-scorer@4.2",), category: str = "data-quality",
                         channel: str = "inc-20260312-fraud-precision", resolve: bool = True) -> Incident:
    """The fraud model whose precision dropped after a stale feature pipeline, recorded step by step."""
    cat = w.catalog
    decl = incidents.validate_declaration(cat, title=title or "Fraud model precision dropped", severity=2,
                                          category=category, models=models)
    async with w.session() as s:
        inc = await incidents.create(s, team_id=TEAM, decl=decl, declared_by=ALICE, declared_in="C0GENERAL",
                                     channel_id="C0" + channel[-8:].upper().replace("-", ""), channel_name=channel,
                                     now=start)
        await roles.assign(s, catalog=cat, incident=inc, role="scribe", user=BOB, actor=ALICE,
                           now=start + timedelta(minutes=1))
        await roles.assign(s, catalog=cat, incident=inc, role="ml-owner", user=CAROL, actor=ALICE,
                           now=start + timedelta(minutes=2))
        form = triage.TriageForm(what_happened="Precision of the fraud scorer fell from 0.91 to 0.62.",
                                 impact_start=start - timedelta(minutes=45), detection="Precision alert",
                                 affected="fraud-scorer", customer_impact="Good payments declined for ~3% of users")
        await triage.submit(s, incident=inc, form=form, actor=BOB, now=start + timedelta(minutes=5))
        for i in range(messages):
            who = (ALICE, BOB, CAROL, DAVE)[i % 4]
            await timeline.record(s, inc, timeline.Posted(inc.channel_id, who, f"1700000{i:03d}.000100",
                                                          f"message {i} from <@{who}>"),
                                  start + timedelta(minutes=6 + i))
        await s.commit()
        e1 = evidence.validate("metric", "https://grafana.example/d/fraud?panel=precision", "precision 0.91 -> 0.62",
                               {"model": "fraud-scorer@4.2", "from": "2026-03-12T12:00:00Z",
                                "to": "2026-03-12T13:30:00Z"}, now=start)
        await evidence.add(s, incident=inc, item=e1, actor=CAROL, now=start + timedelta(minutes=20))
        e2 = evidence.validate("dataset", "s3://features/merchant_risk/2026-03-10", "last partition is 2 days old",
                               {"snapshot": "merchant_risk@2026-03-10"}, now=start)
        await evidence.add(s, incident=inc, item=e2, actor=DAVE, now=start + timedelta(minutes=25))
        e3 = evidence.validate("deploy", "fraud-scorer 4.2 rollout", "", {"sha": "9f2c1ab"}, now=start)
        await evidence.add(s, incident=inc, item=e3, actor=CAROL, now=start + timedelta(minutes=27))
        await add_hypothesis(s, inc, "The 4.2 deploy regressed precision", by=CAROL, at=start + timedelta(minutes=30),
                             verdict="refuted", test_plan="Score yesterday's traffic with 4.1 and 4.2",
                             expected="4.1 scores higher precision", note="Both versions score the same",
                             evidence_numbers=[3])
        await add_hypothesis(s, inc, "The merchant_risk feature pipeline is stale", by=DAVE,
                             at=start + timedelta(minutes=35), verdict="confirmed",
                             test_plan="Check partition freshness", expected="Partitions older than 24h",
                             note="Airflow DAG paused since Mar 10", evidence_numbers=[1, 2])
        await add_hypothesis(s, inc, "Seasonal drift in merchant mix", by=BOB, at=start + timedelta(minutes=40))
        await add_action(s, inc, "Alert on feature freshness > 6h", owner=DAVE, due=date(2026, 3, 19),
                         kind="monitor", at=start + timedelta(minutes=50), hypothesis=2)
        guardrail = await add_action(s, inc, "Block scoring when a feature is stale", owner=CAROL,
                                     due=date(2026, 3, 26), kind="guardrail", at=start + timedelta(minutes=51))
        if resolve:
            await lifecycle.change_status(s, catalog=cat, incident=inc, to="mitigated", actor=ALICE,
                                          reason="Pipeline resumed and backfilled", now=start + timedelta(minutes=70))
            await lifecycle.change_status(s, catalog=cat, incident=inc, to="resolved", actor=ALICE, reason="",
                                          now=start + timedelta(minutes=95))
        await close_action(s, guardrail, at=start + timedelta(days=5))
        await s.refresh(inc)
        return inc


async def document_of(w: World, incident: Incident, people: dict[str, str] | None = None) -> Doc:
    """The incident document, with display names."""
    async with w.session() as s:
        return await build(s, incident, catalog=w.catalog, people=PEOPLE if people is None else people)
