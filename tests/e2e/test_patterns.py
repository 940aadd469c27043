"""The pattern library end to end: a confirmed cause and its fix saved as a card in one incident, suggested in the
thread of the next one that looks like it, used there to start a hypothesis, validated once the fix is verified and
withdrawn when the cause comes back; in the postmortem, the bundle and the App Home."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.incident import hypotheses
from bot.insights import patterns
from bot.insights.pattern_use import pattern_records, with_patterns
from bot.insights.recurrence import decide
from bot.postmortem import document
from bot.postmortem.draft import checked
from bot.postmortem.export import DOCUMENT, POSTMORTEM, verify_bundle, write_bundle
from bot.record import chain
from storage.loop_tables import IncidentLink, Pattern, PatternUse
from storage.models import Incident, PostmortemDraft
from tests.e2e.helpers import declare, entries, incident_named, run, texts


async def _first_incident(stack: LocalStack) -> Incident:
    incident, _ = await declare(stack, "Fraud scores drift after the feature pipeline change",
                                options="sev=2 type=data-drift model=fraud@4.2")
    ch = f"#{incident.channel_name}"
    await run(stack, "bob", ch, "hypothesis The feature store served a stale snapshot after the pipeline change")
    await run(stack, "bob", ch, "evidence log s3://logs/features/2026-03-01 snapshot age 26h")
    await run(stack, "bob", ch, 'test H1 replay one hour of traffic on a fresh snapshot expect="scores back to the '
                                'reference distribution"')
    await run(stack, "bob", ch, "confirm H1 E1 the replay matched")
    await run(stack, "alice", ch, "action Add a snapshot freshness guard owner=@bob due=+7d kind=guardrail "
                                  "hypothesis=H1")
    return await incident_named(stack, incident.channel_name)


async def _verify(stack: LocalStack, incident: Incident) -> None:
    """A1 passes every stage, in order, on the canary report kept as E1."""
    for stage in stack.deps.catalog.verify.stages:
        await run(stack, "bob", f"#{incident.channel_name}", f"check A1 stage={stage} result=pass evidence=E1 "
                                                              f"{stage} report clean")


async def test_a_pattern_saved_in_one_incident_is_suggested_in_the_next(stack: LocalStack, tmp_path: Path) -> None:
    first = await _first_incident(stack)
    ch = f"#{first.channel_name}"
    refused = await run(stack, "bob", ch, 'pattern save H2 name="Stale snapshot"')
    assert "No hypothesis H2" in refused.text()
    await run(stack, "bob", ch, 'hypothesis Holiday traffic')
    refused = await run(stack, "bob", ch, 'pattern save H2 name="Holiday"')
    assert "only a confirmed cause becomes a pattern" in refused.text()
    await run(stack, "bob", ch, 'pattern save H1 name="Stale feature snapshot"')
    again = await run(stack, "bob", ch, 'pattern save H1 name="Twice"')
    assert "already pattern P1" in again.text()
    async with stack.deps.session() as s:
        (card,) = (await s.exec(select(Pattern))).all()
    assert (card.number, card.category, card.models) == (1, "data-drift", ["fraud"])
    assert card.hypothesis["test_plan"] == "replay one hour of traffic on a fresh snapshot"
    assert card.hypothesis["evidence_kinds"] == ["log"]
    assert [m["number"] for m in card.mitigations] == [1]  # the item added for H1, taken when none is named
    assert {"stale", "snapshot", "pipeline", "feature"} <= set(card.symptoms)
    assert "saved *H1* and A1 as pattern *P1*" in texts(stack.driver.bot_messages(first.channel_name))
    assert "pattern_saved" in [e.kind for e in await entries(stack, first.id or 0)]
    private, _ = await declare(stack, "Quiet check", options="sev=3 type=infrastructure private=yes")
    refused = await run(stack, "alice", f"#{private.channel_name}", 'pattern save H1 name="Secret"')
    assert "This incident is private" in refused.text()

    listed = await run(stack, "carol", "#general", "patterns snapshot")
    assert "Stale feature snapshot" in str(listed.collected()) and "not validated yet" in str(listed.collected())
    await _verify(stack, first)
    listed = await run(stack, "carol", "#general", "patterns model=fraud category=data-drift")
    assert "validated since" in str(listed.collected())
    assert "No pattern matches" in str((await run(stack, "carol", "#general", "patterns category=data-quality"))
                                      .collected())

    second, _ = await declare(stack, "Fraud scores drifting again on stale features",
                              options="sev=3 type=data-drift model=fraud@4.3")
    thread = stack.driver.thread(second.channel_name, second.card_ts or "")
    offered = [m for m in thread if "Earlier incidents like this one left patterns" in str(m.get("blocks"))]
    assert len(offered) == 1
    shown = str(offered[0]["blocks"])
    for expected in ("P1", "Stale feature snapshot", "replay one hour of traffic", "validated since",
                     "staging report clean", "hypothesis from=P"):
        assert expected in shown, expected

    ch2 = f"#{second.channel_name}"
    await run(stack, "dave", ch2, "hypothesis from=P1")
    async with stack.deps.session() as s:
        h1 = await hypotheses.get(s, second.id or 0, 1)
        uses = (await s.exec(select(PatternUse.incident_id, PatternUse.how).order_by(col(PatternUse.id)))).all()
    assert h1.statement.startswith("The feature store served a stale snapshot")
    assert h1.test_plan == "replay one hour of traffic on a fresh snapshot"
    assert list(uses) == [(first.id, "created"), (second.id, "suggested"), (second.id, "used")]
    kinds = [e.kind for e in await entries(stack, second.id or 0)]
    assert "patterns_suggested" in kinds and "pattern_used" in kinds
    async with stack.deps.session() as s:
        assert (await chain.verify_incident(s, await incident_named(stack, second.channel_name))).ok

    await stack.driver.open_home("bob")
    await stack.settle()
    home = str(stack.driver.home_view("bob"))
    assert "Pattern library" in home and "P1" in home

    # The cause came back: confirming the second incident as its recurrence withdraws the validation.
    async with stack.deps.session() as s:
        link = (await s.exec(select(IncidentLink).where(IncidentLink.incident_id == second.id))).one()
        await decide(s, link_id=link.id or 0, team_id=second.team_id, channel_id=second.channel_id, confirmed=True,
                     actor="U0DAVE", now=stack.deps.now())
        (card_now,) = await patterns.cards(s, second.team_id)
    assert card_now.validated_at is None

    await run(stack, "dave", ch2, "postmortem")
    async with stack.deps.session() as s:
        draft = (await s.exec(select(PostmortemDraft).where(PostmortemDraft.incident_id == second.id))).one()
    section = draft.markdown[draft.markdown.index("## Patterns used / created"):]
    assert "**P1** Stale feature snapshot (used to start a hypothesis; not validated yet" in section

    async with stack.deps.session() as s:  # what `retro export` writes
        doc = with_patterns(await document.build(s, second, catalog=stack.deps.catalog),
                            await pattern_records(s, second))
    write_bundle(stack.deps.templates, checked(stack.deps.templates, doc, stack.deps.catalog), tmp_path / "b")
    assert verify_bundle(tmp_path / "b").ok
    (kept,) = json.loads((tmp_path / "b" / DOCUMENT).read_text())["patterns"]
    assert (kept["number"], kept["how"], kept["validated_at"]) == (1, "used", None)
    assert kept["fixes"] == ["A1 Add a snapshot freshness guard: passed at staging (manual), canary (manual), prod "
                             "(manual)"]
    assert "**P1** Stale feature snapshot (used to start" in (tmp_path / "b" / POSTMORTEM).read_text()
