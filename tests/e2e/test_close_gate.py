"""Closing while mitigations are not verified: the team's gate warns (asks first), blocks, or is off; and a person's
verdict per stage, resting on evidence, verifies an item."""

from __future__ import annotations

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.followup.verification import verified_actions
from bot.ids import ActionId
from bot.loop_config import CloseGate
from storage.loop_tables import ActionCheck
from tests.e2e.helpers import answer, declare, entries, incident_named, run, texts
from tests.reminder_world import catalog_with


def _gate(stack: LocalStack, gate: CloseGate) -> None:
    stack.deps.catalog = catalog_with(verify={"close_requires_verified": gate})


async def _incident_with_a_done_fix(stack: LocalStack, title: str) -> str:
    """A new incident whose only item, a fix, is done but not verified; returns its channel."""
    incident, _ = await declare(stack, title)
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "action Retrain on the fixed window owner=@bob due=+3d kind=fix")
    await run(stack, "alice", ch, "action Write the runbook owner=@bob due=+3d kind=process")
    await run(stack, "bob", ch, "done A1 shipped")
    await run(stack, "bob", ch, "done A2 written")
    return ch


async def test_block_refuses_to_close_until_every_stage_passed(stack: LocalStack) -> None:
    _gate(stack, "block")
    ch = await _incident_with_a_done_fix(stack, "Ranking model stale")
    refused = await run(stack, "alice", ch, "status closed")
    assert "closes an incident only once every mitigation is verified" in refused.text()
    assert "A1 Retrain on the fixed window — unverified" in refused.text() and "A2" not in refused.text()
    assert (await incident_named(stack, ch.lstrip("#"))).status == "investigating"

    await run(stack, "bob", ch, "evidence other ci-run-881 offline eval on the fixed window")
    wrong = await run(stack, "bob", ch, "check A2 stage=staging result=pass evidence=E1")
    assert "A2 is a process item" in wrong.text()
    typo = await run(stack, "bob", ch, "check A1 stage=stagin result=pass evidence=E1")
    assert "Unknown stage `stagin`" in typo.text() and "/retro check A<n>" in typo.text()
    await run(stack, "bob", ch, "check A1 stage=staging result=fail evidence=E1 eval still low")
    said = texts(stack.driver.messages(ch))
    assert "*A1* failed *staging* (manual)" in said and "No rollback is noted on A1" in said
    for stage in ("staging", "canary", "prod"):
        await run(stack, "bob", ch, f"check A1 stage={stage} result=pass evidence=E1")
    status = await run(stack, "bob", ch, "check A1")
    assert "A1 is *verified*" in status.text() and "• prod: pass (manual" in status.text()

    team = (await incident_named(stack, ch.lstrip("#"))).team_id
    async with stack.deps.session() as s:
        (first,) = await verified_actions(s, team)
    await run(stack, "bob", ch, "check A1 stage=prod result=fail evidence=E1 prod alarms again")
    assert "*A1 regressed*" in texts(stack.driver.messages(ch))
    again = await run(stack, "alice", ch, "status closed")
    assert "A1 Retrain on the fixed window — regressed" in again.text()
    await run(stack, "bob", ch, "check A1 stage=prod result=pass evidence=E1 alarms were a flaky probe")
    async with stack.deps.session() as s:
        (second,) = await verified_actions(s, team)
    assert second.verified_at > first.verified_at and second.regressed_at is None
    listed = await run(stack, "bob", ch, "actions")
    assert "*A1* `fix` Retrain on the fixed window" in listed.text() and " · verified" in listed.text()
    assert "*A2* `process`" in listed.text() and listed.text().count(" · verified") == 1
    timeline = await run(stack, "bob", ch, "timeline all")
    assert "A1 staging check: fail" in timeline.text() and "A1 verified" in timeline.text()
    await run(stack, "alice", ch, "status closed")
    incident = await incident_named(stack, ch.lstrip("#"))
    assert incident.status == "closed"
    async with stack.deps.session() as s:
        checks = (await s.exec(select(ActionCheck).where(ActionCheck.incident_id == incident.id)
                               .order_by(col(ActionCheck.id)))).all()
    assert [(c.stage, c.outcome) for c in checks] == [("staging", "fail"), ("staging", "pass"), ("canary", "pass"),
                                                      ("prod", "pass"), ("prod", "fail"), ("prod", "pass")]
    kinds = [e.kind for e in await entries(stack, incident.id or 0)]
    assert kinds.count("action_check") == 6 and kinds.count("action_verified") == 2 and "action_regressed" in kinds
    assert kinds.index("action_verified") < kinds.index("status_changed")


async def test_warn_asks_first_and_off_closes_at_once(stack: LocalStack) -> None:
    ch = await _incident_with_a_done_fix(stack, "Churn scores drifted")  # the default gate: warn
    asked = await run(stack, "alice", ch, "status closed")
    assert "1 mitigation not verified" in asked.text() and "A1 Retrain on the fixed window — unverified" in \
        asked.text()
    assert (await incident_named(stack, ch.lstrip("#"))).status == "investigating"
    await answer(stack, "alice", ch, ActionId.CONFIRM_COMMAND)
    assert (await incident_named(stack, ch.lstrip("#"))).status == "closed"

    _gate(stack, "off")
    other = await _incident_with_a_done_fix(stack, "Fraud recall dipped")
    quiet = await run(stack, "alice", other, "status closed")
    assert "not verified" not in quiet.text()
    assert (await incident_named(stack, other.lstrip("#"))).status == "closed"
