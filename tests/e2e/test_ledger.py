"""The hypothesis ledger end to end: `/retro hypothesis | test | confirm | refute | inconclusive | hypotheses`."""

from __future__ import annotations

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.record import chain
from storage.models import Hypothesis, Incident
from tests.e2e.helpers import declare, entries, incident_named, run, texts


async def _hypotheses(stack: LocalStack, incident: Incident) -> dict[int, Hypothesis]:
    async with stack.deps.session() as s:
        rows = await s.exec(select(Hypothesis).where(Hypothesis.incident_id == incident.id)
                            .order_by(col(Hypothesis.number)))
        return {h.number: h for h in rows.all()}


async def test_the_ledger_from_proposal_to_verdict(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    ch = f"#{incident.channel_name}"
    await run(stack, "bob", ch, "hypothesis Feature null rate spiked after the ETL change")
    await run(stack, "carol", ch, "hypothesis The threshold p=0.05 is too tight for <@U0NOBODY|eve>'s segment")
    await run(stack, "bob", ch, "evidence log s3://logs/etl/2026-03-12 null rate 14%")
    await run(stack, "bob", ch, 'test H1 replay Tuesday with lr=0.1 and the old ETL expect="precision back to 0.92" '
                                'criteria="within one point"')
    confirmed = await run(stack, "bob", ch, "confirm H1 E1 the replay matched production = 0.921")
    await run(stack, "alice", ch, "refute H2")
    await run(stack, "alice", ch, "inconclusive H2 E1, not enough traffic in the segment")
    assert confirmed.text() == "" or "warning" not in confirmed.text()

    h = await _hypotheses(stack, incident)
    assert h[1].statement == "Feature null rate spiked after the ETL change" and h[1].proposed_by == stack.driver.user(
        "bob").id
    assert h[2].statement.startswith("The threshold p=0.05 is too tight")  # typed `=` kept as text
    assert h[1].test_plan == "replay Tuesday with lr=0.1 and the old ETL"
    assert (h[1].expected, h[1].criteria) == ("precision back to 0.92", "within one point")
    assert (h[1].verdict, h[1].verdict_evidence, h[1].verdict_note) == ("confirmed", [1],
                                                                        "the replay matched production = 0.921")
    assert (h[2].verdict, h[2].verdict_evidence) == ("inconclusive", [1])
    fresh = await incident_named(stack, incident.channel_name)
    assert fresh.insight_at is not None and fresh.insight_at == h[1].verdict_at

    posted = texts(stack.driver.bot_messages(incident.channel_name))
    assert "*H1* proposed by" in posted and "*H2* proposed by" in posted
    assert "@eve" in posted and "<@U0NOBODY" not in posted  # user text never pings
    assert "*H1* confirmed" in posted and "time to insight" in posted
    assert "*H2* inconclusive (was refuted)" in posted

    kinds = [e.kind for e in await entries(stack, incident.id or 0)]
    assert kinds.count("hypothesis_proposed") == 2 and kinds.count("hypothesis_test_planned") == 1
    assert kinds.count("hypothesis_verdict") == 3
    async with stack.deps.session() as s:
        assert (await chain.verify_incident(s, fresh)).ok

    ledger = await run(stack, "dave", ch, "hypotheses")
    (reply,) = ledger.collected()
    blocks = str(reply["blocks"])
    for expected in ("Statement", "Test", "Expected", "Verdict", "precision back to 0.92", "within one point",
                     "evidence E1", ":white_check_mark:", ":heavy_minus_sign:", "1 confirmed", "1 inconclusive"):
        assert expected in blocks, expected


async def test_a_reversed_confirmation_withdraws_the_time_to_insight(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "hypothesis Upstream schema change")
    await run(stack, "alice", ch, "hypothesis Holiday traffic")
    await run(stack, "alice", ch, "confirm H1")
    first = (await incident_named(stack, incident.channel_name)).insight_at
    await run(stack, "alice", ch, "confirm H2 second cause")
    assert (await incident_named(stack, incident.channel_name)).insight_at == first  # the first one counts
    await run(stack, "alice", ch, "refute H1 the schema change was reverted before")
    h = await _hypotheses(stack, incident)
    assert (await incident_named(stack, incident.channel_name)).insight_at == h[2].verdict_at
    await run(stack, "alice", ch, "refute H2 coincidence")
    assert (await incident_named(stack, incident.channel_name)).insight_at is None


async def test_ledger_errors_are_clear(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "hypothesis ETL change")
    cases = {
        "hypothesis": "A hypothesis needs a statement.",
        "test H9 replay expect=\"x\"": "No hypothesis H9 in this incident (known: H1).",
        "test H1 replay the traffic": 'expect="…"',
        'test H1 expect="precision recovers"': "Describe how the hypothesis will be tested.",
        'test X1 replay expect="y"': "`X1` is not an id like H1.",
        "test": "Name the hypothesis, like H1.",
        "confirm": "Name the hypothesis, like H1.",
        "confirm H1 E42 E43": "No evidence E42, E43 in this incident.",
        "refute E1": "`E1` is not an id like H1.",
        "inconclusive H7": "No hypothesis H7 in this incident (known: H1).",
        "hypotheses all=yes": "Unknown option `all=`",
    }
    for command, message in cases.items():
        result = await run(stack, "bob", ch, command)
        assert message in result.text(), (command, result.text())
        assert ":warning:" in result.text()
    usage = (await run(stack, "bob", ch, "test H1 replay")).text()
    assert "Usage: `/retro test H<n> <plan> expect=" in usage
    await run(stack, "bob", ch, "confirm H1")
    again = await run(stack, "bob", ch, "confirm H1")
    assert "H1 is already confirmed with the same evidence" in again.text()
    elsewhere = await run(stack, "bob", "#general", "hypothesis Maybe the cache")
    assert "works inside an incident channel" in elsewhere.text() and incident.channel_name in elsewhere.text()
    h = await _hypotheses(stack, incident)
    assert list(h) == [1] and h[1].test_plan is None and h[1].verdict == "confirmed"
