"""Nothing silently lost or overwritten: a verdict that changes keeps the one it replaced, closing with open action
items asks first, what is added after close is kept and marked, and declaring what looks declared asks "did you
mean #inc-…?"."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.ids import ActionId
from bot.postmortem import document
from bot.postmortem.draft import render, template_environment
from bot.postmortem.export import POSTMORTEM, render_bundle, verify_bundle, write_bundle
from storage.models import ActionItem, HypothesisVerdict, Incident
from tests.conftest import FakeClock
from tests.e2e.helpers import answer, declare, entries, incident_named, many_open_items, run, texts
from tests.reminder_world import ALICE, BOB


async def _markdown(stack: LocalStack, incident: Incident, bundle: Path | None = None) -> str:
    """The postmortem drawn from the record (and, given a folder, exported there and checked as `retro verify` and
    `retro render` would)."""
    async with stack.deps.session() as s:
        doc = await document.build(s, await incident_named(stack, incident.channel_name), catalog=stack.deps.catalog)
    if bundle is not None:
        write_bundle(template_environment(), doc, bundle)
        assert verify_bundle(bundle).ok
        assert render_bundle(template_environment(), bundle) == (bundle / POSTMORTEM).read_text()
    return render(template_environment(), doc)


async def _channels(stack: LocalStack) -> set[str]:
    return {c.name for c in stack.emulator.state.channels.values()}


async def test_a_changed_verdict_keeps_the_first_and_says_what_it_replaced(clocked: LocalStack, t0: FakeClock,
                                                                           tmp_path: Path) -> None:
    stack = clocked
    incident, _ = await declare(stack, "Ranking drift", options="sev=2 type=data-drift")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "hypothesis Upstream schema change")
    await run(stack, "alice", ch, "evidence log https://logs.example/replay-1 replay matched")
    await run(stack, "alice", ch, "evidence log https://logs.example/replay-2 replay on the right day")
    t0.advance(hours=1)
    await run(stack, "bob", ch, "confirm H1 E1 the replay matched production at=-30m")
    t0.advance(hours=2)
    await run(stack, "carol", ch, "refute H1 E2 the first replay used the wrong day")

    said = texts(stack.driver.bot_messages(incident.channel_name))
    assert "*H1* refuted (was confirmed)" in said
    replaced = said[said.index("Replaces the earlier verdict"):]
    assert replaced.startswith("Replaces the earlier verdict, :white_check_mark: confirmed by <@U0BOB>")
    assert "evidence E1: the replay matched production — kept in H1's history" in replaced

    async with stack.deps.session() as s:
        rows = (await s.exec(select(HypothesisVerdict).order_by(col(HypothesisVerdict.seq)))).all()
    first, second = rows
    assert (first.verdict, first.decided_by, first.evidence, first.note) == (
        "confirmed", "U0BOB", [1], "the replay matched production")
    start = t0.current - timedelta(hours=3)  # the clock when the incident was declared
    assert first.decided_at == start + timedelta(minutes=30) and first.recorded_at == start + timedelta(hours=1)
    assert (second.verdict, second.decided_by, second.evidence, second.seq) == ("refuted", "U0CAROL", [2], 2)
    assert (await incident_named(stack, incident.channel_name)).insight_at is None  # the confirmation was withdrawn

    ledger = str((await run(stack, "dave", ch, "hypotheses")).collected()[0]["blocks"])
    assert ":x: *refuted*" in ledger and "_Changed 1×; before:_" in ledger
    assert "_was_ :white_check_mark: confirmed by <@U0BOB>" in ledger and "the replay matched production" in ledger

    markdown = await _markdown(stack, incident, tmp_path / "bundle")
    section = markdown[markdown.index("### H1: Upstream schema change"):]
    assert "- **Verdict:** refuted" in section
    assert "- **Verdict changed** 1 time(s); it replaced, latest first:" in section
    assert re.search(r"\n  - confirmed \(.+; evidence E1\): the replay matched production\n", section), section


async def test_closing_with_open_action_items_asks_and_lists_every_one(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    ch = f"#{incident.channel_name}"
    await many_open_items(stack, incident, 40, owner=BOB, actor=ALICE)
    asked = await run(stack, "alice", ch, "status closed wrapping up at=-10m")
    assert "still has 40 open action items" in asked.text()
    question = drv.ephemerals("alice", incident.channel_name)[-1]
    shown = [int(n) for n in re.findall(r"\*A(\d+)\*", str(question["blocks"]))]
    more = re.findall(r"…and (\d+) more: `/retro actions` lists every one", str(question["blocks"]))
    assert shown and more and len(shown) + int(more[0]) == 40 and len(set(shown)) == len(shown)
    assert (await incident_named(stack, incident.channel_name)).status == "investigating"

    await answer(stack, "alice", ch, ActionId.CANCEL_COMMAND)
    assert "Not closed: #" in str(drv.ephemerals("alice", incident.channel_name)[-1]["text"])
    assert (await incident_named(stack, incident.channel_name)).status == "investigating"

    t0.advance(minutes=5)
    await run(stack, "alice", ch, "status closed wrapping up at=-10m")
    asked_at = t0.current
    t0.advance(minutes=3)  # `at=-10m` is ten minutes before the question, not before the click
    await answer(stack, "alice", ch, ActionId.CONFIRM_COMMAND)
    closed = await incident_named(stack, incident.channel_name)
    assert closed.status == "closed" and closed.closed_at == asked_at - timedelta(minutes=10)
    assert "set the status to *closed*" in texts(drv.bot_messages(incident.channel_name))
    async with stack.deps.session() as s:
        still = (await s.exec(select(ActionItem).where(ActionItem.status == "open"))).all()
    assert len(still) == 40  # closing keeps them open and reminded


async def test_notes_and_actions_after_close_are_kept_and_marked(stack: LocalStack, tmp_path: Path) -> None:
    incident, _ = await declare(stack, "Churn model drift", options="sev=3 type=data-drift")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "status closed")  # no open action items: nothing to ask
    noted = await run(stack, "bob", ch, "note The real trigger was the holiday calendar")
    assert "added after the incident was closed" in noted.text()
    await run(stack, "alice", ch, "action Add the holiday calendar to the features owner=@bob due=+3d")
    assert "Added after the incident was closed" in texts(stack.driver.bot_messages(incident.channel_name))

    async with stack.deps.session() as s:
        (item,) = (await s.exec(select(ActionItem))).all()
    assert item.after_close is True
    late = {e.kind: e.data for e in await entries(stack, incident.id or 0) if e.data.get("after_close")}
    assert set(late) == {"note", "action_added"}
    listing = str((await run(stack, "alice", ch, "actions")).collected()[0]["blocks"])
    assert "_added after the incident was closed_" in listing
    view = (await run(stack, "alice", ch, "timeline")).text()
    assert "note _(added after close)_: The real trigger" in view and "A1 added _(added after close)_" in view
    markdown = await _markdown(stack, incident, tmp_path / "bundle")
    assert "Note (added after the incident was closed): The real trigger was the holiday calendar" in markdown
    assert "Add the holiday calendar to the features _(added after the incident was closed)_ |" in markdown


async def test_declaring_from_an_incident_channel_or_an_open_title_asks_first(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    before = await _channels(stack)

    inside = await run(stack, "bob", f"#{incident.channel_name}", "start Feature store lag sev=3")
    assert f"Did you mean #{incident.channel_name}" in inside.text() and await _channels(stack) == before
    await answer(stack, "bob", incident.channel_name, ActionId.CONFIRM_COMMAND)
    created = await _channels(stack) - before
    assert len(created) == 1 and next(iter(created)).endswith("feature-store-lag")

    before = await _channels(stack)
    same = await run(stack, "carol", "#general", "start   fraud  PRECISION drop")
    assert "An open incident already has this title: *Fraud precision drop*" in same.text()
    await answer(stack, "carol", "#general", ActionId.CANCEL_COMMAND)
    assert f"Nothing was declared; carry on in #{incident.channel_name}" in str(
        drv.ephemerals("carol", "general")[-1]["text"])
    assert await _channels(stack) == before

    await run(stack, "dave", "#general", "start")  # the modal asks in place, then declares anyway
    status, _ = await drv.submit_view("dave", values={"title": "FRAUD precision  drop", "severity": "2",
                                                      "category": "data-quality", "description": "same again"})
    assert status == 200 and await _channels(stack) == before
    (view,) = drv.views_open_for("dave")
    assert "Did you mean #" in str(view["blocks"]) and view["submit"]["text"] == "Declare anyway"
    status, _ = await drv.submit_view("dave", values={})
    await stack.settle()
    assert status == 200 and drv.views_open_for("dave") == []
    (made,) = await _channels(stack) - before
    assert (await incident_named(stack, made)).description == "same again"


async def test_a_private_incident_is_not_revealed_by_the_question(stack: LocalStack) -> None:
    hidden, _ = await declare(stack, "Prompt injection on support bot", options="sev=1 type=adversarial")
    assert hidden.private
    result = await run(stack, "carol", "#general", "start Prompt injection on support bot type=adversarial")
    assert "Did you mean" not in result.text() and hidden.channel_name not in result.text()
    assert "Declared" in result.text()
