"""Modals open before any lookup, and submissions are acknowledged in time, however slow Slack answers."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.app.local import LocalStack
from bot.ids import ActionId
from storage.models import TriageVersion
from tests.e2e.helpers import declare, run

PRIVATE = "sev=1 type=adversarial"  # adversarial incidents are private: acting on one asks Slack for membership
TRIAGE = {"what_happened": "precision fell", "detection": "alert", "affected": "fraud@3", "customer_impact": "declines"}
SLOW = 3.2  # a membership answer slower than a trigger id lives


async def test_a_card_button_opens_its_modal_even_when_membership_answers_slowly(stack: LocalStack) -> None:
    """Add evidence on a private card: the modal opens at once and is filled in once Slack has answered."""
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    stack.emulator.slow(["users.conversations"], SLOW)
    status = await stack.driver.click("alice", action_id=ActionId.ADD_EVIDENCE, channel=incident.channel_name,
                                      message_ts=incident.card_ts, value=str(incident.id))
    assert status == 200
    await stack.settle()
    assert [v["callback_id"] for v in stack.driver.views_open_for("alice")] == ["retro_evidence"]
    assert all(c.ok for c in stack.emulator.calls_for("views.open"))


async def test_retro_triage_opens_a_loading_view_before_looking_anything_up(stack: LocalStack) -> None:
    """The first thing `/retro triage` asks of Slack is views.open (a loading view), then views.update fills it."""
    incident, _ = await declare(stack, "Fraud precision drop")
    before = len(stack.emulator.calls)
    await run(stack, "alice", f"#{incident.channel_name}", "triage")
    methods = [c.method for c in stack.emulator.calls[before:] if c.method != "auth.test"]
    assert methods[:2] == ["views.open", "views.update"], methods
    assert "retro_triage" not in json.dumps(stack.emulator.calls_for("views.open")[-1].params.get("view"))
    assert [v["callback_id"] for v in stack.driver.views_open_for("alice")] == ["retro_triage"]


async def test_a_triage_submission_is_acknowledged_in_time_with_a_slow_membership_check(stack: LocalStack) -> None:
    """Slack answering users.conversations in 3.2 s: the submission is still acknowledged within 3 s and recorded."""
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    await run(stack, "alice", f"#{incident.channel_name}", "triage")
    stack.emulator.slow(["users.conversations"], SLOW)
    status, _ = await stack.driver.submit_view("alice", values=TRIAGE)
    assert status == 200 and stack.emulator.late_acks == []
    assert not stack.driver.views_open_for("alice")
    await stack.settle()
    async with stack.deps.session() as s:
        assert (await s.exec(select(TriageVersion).where(TriageVersion.incident_id == incident.id))).all()


async def test_with_700_ms_of_membership_latency_a_refusal_still_shows_in_the_modal(stack: LocalStack) -> None:
    """A check that answers within its time still turns into the modal's own error, acknowledged in time."""
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    drv, ch = stack.driver, incident.channel_name
    await drv.invite("alice", ch, "bob")
    await run(stack, "bob", ch, "triage")
    await drv.leave("bob", ch)
    stack.emulator.slow(["users.conversations", "conversations.members"], 0.7)
    status, body = await drv.submit_view("bob", values=TRIAGE)
    assert status == 200 and stack.emulator.late_acks == []
    assert "private: only members of its channel" in json.dumps(body["errors"])


async def test_a_refusal_reaches_the_person_who_closed_the_loading_modal(stack: LocalStack) -> None:
    """erin, not in a private incident's channel, clicks Add evidence and closes the loading modal before Slack has
    answered the membership check: the refusal comes as a reply, and the member's own modal is still filled."""
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    stack.emulator.slow(["users.conversations"], 0.5)
    for user in ("erin", "alice"):
        status = await stack.driver.click(user, action_id=ActionId.ADD_EVIDENCE, channel=incident.channel_name,
                                          message_ts=incident.card_ts, value=str(incident.id))
        assert status == 200
    assert await stack.driver.close_view("erin") is None  # closed while it still says "loading"
    await stack.settle()
    refused = json.dumps(stack.driver.ephemerals("erin")) + json.dumps(stack.driver.dms("erin"))
    assert "private: only members" in refused and "Jailbreak" not in refused
    assert stack.driver.views_open_for("erin") == []
    assert [v["callback_id"] for v in stack.driver.views_open_for("alice")] == ["retro_evidence"]
