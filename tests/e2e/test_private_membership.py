"""Who may see a private incident: one membership question to Slack per request, and no channel can break the answer."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.app.local import SANDBOX_TOKEN, LocalStack
from bot.ids import ActionId
from bot.slack.oauth import manifest_scopes
from sandbox import actions
from sandbox.state import Channel
from storage.models import Evidence, TriageVersion
from tests.e2e.helpers import declare, run

PRIVATE = "sev=1 type=adversarial"
PUBLIC = "sev=3 type=infrastructure"
MEMBERSHIP = ("users.conversations", "conversations.members")


def membership_calls(stack: LocalStack) -> int:
    """Web API calls that asked Slack who is in which channel, so far."""
    return sum(stack.emulator.call_count(m) for m in MEMBERSHIP)


async def home_of(stack: LocalStack, user: str) -> str:
    """The person's App Home as Slack shows it after they open it."""
    await stack.driver.open_home(user)
    await stack.settle()
    return json.dumps(stack.driver.home_view(user))


async def test_a_private_incident_the_bot_lost_breaks_no_one(stack: LocalStack) -> None:
    lost, _ = await declare(stack, "Prompt injection in triage bot", options=PRIVATE)
    await declare(stack, "Latency drift", options=PUBLIC)
    kept, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    ws = stack.emulator.state
    actions.archive_channel(ws, ws.channel(kept.channel_id), ws.user("alice"))  # archived channels keep members
    await stack.driver.leave("retro", lost.channel_name)  # someone removed the bot from the channel
    await stack.settle()
    for user in ("alice", "erin"):
        listing, stats = await run(stack, user, "#general", "list"), await run(stack, user, "#general", "stats")
        for answer in (listing.text(), stats.text()):
            assert "Slack refused" not in answer and "went wrong" not in answer, answer
        assert "Latency drift" in listing.text()
        # Slack no longer says who is in the lost channel, so nobody is shown its incident
        assert "Prompt injection" not in listing.text() and lost.channel_name not in listing.text()
        assert ("Jailbreak" in listing.text()) is (user == "alice")
    assert "2 incident(s)" in (await run(stack, "alice", "#general", "stats")).text()
    assert "1 incident(s)" in (await run(stack, "erin", "#general", "stats")).text()
    home = await home_of(stack, "alice")
    assert "Latency drift" in home and "Jailbreak" in home and "Prompt injection" not in home


async def test_when_slack_will_not_say_who_is_where_private_incidents_stay_hidden(stack: LocalStack) -> None:
    await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    await declare(stack, "Latency drift", options=PUBLIC)
    grant = stack.emulator.tenancy.tokens[SANDBOX_TOKEN]
    grant.scopes = [s for s in manifest_scopes() if s != "groups:read"]  # users.conversations: missing_scope
    listing, stats = await run(stack, "alice", "#general", "list"), await run(stack, "alice", "#general", "stats")
    assert "Latency drift" in listing.text() and "Jailbreak" not in listing.text()
    assert "1 incident(s)" in stats.text()
    assert [c.error for c in stack.emulator.calls_for("users.conversations")] == ["missing_scope"] * 2


async def test_a_non_member_never_sees_a_private_incident(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    await stack.driver.invite("alice", incident.channel_name, "bob")
    await run(stack, "bob", incident.channel_name, "note bob was here")
    for user, sees in (("alice", True), ("bob", True), ("erin", False)):
        listing = await run(stack, user, "#general", "list")
        assert ("Jailbreak" in listing.text()) is sees, (user, listing.text())
        stats = await run(stack, user, "#general", "stats")
        assert ("1 incident(s)" in stats.text()) is sees, (user, stats.text())
    await stack.driver.leave("bob", incident.channel_name)
    assert "Jailbreak" not in (await run(stack, "bob", "#general", "list")).text()
    assert "Jailbreak" not in await home_of(stack, "bob")


async def test_one_membership_call_per_request_whatever_the_number_of_private_incidents(stack: LocalStack) -> None:
    for n in range(5):
        await declare(stack, f"Jailbreak number {n}", options=PRIVATE)
    await declare(stack, "Latency drift", options=PUBLIC)
    for command in ("list", "stats"):
        before, calls = membership_calls(stack), stack.emulator.call_count()
        answer = await run(stack, "alice", "#general", command)
        assert "6 " in answer.text(), answer.text()
        assert membership_calls(stack) - before == 1 and stack.emulator.call_count() - calls == 1, command
    assert all(c.params.get("user") == stack.driver.user("alice").id
               for c in stack.emulator.calls_for("users.conversations"))


async def test_membership_reads_every_page_slack_returns(stack: LocalStack) -> None:
    ws = stack.emulator.state
    for n in range(1200):  # Slack pages over all of a workspace's conversations before it filters
        ws.add_channel(Channel(id=ws.new_id("C"), name=f"filler-{n}", created=0, creator=ws.user("carol").id,
                               members=[ws.user("carol").id]))
    await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    before = stack.emulator.call_count("users.conversations")
    assert "Jailbreak" in (await run(stack, "alice", "#general", "list")).text()
    assert stack.emulator.call_count("users.conversations") - before == 2


TRIAGE = {"what_happened": "precision fell", "detection": "alert", "affected": "fraud@3", "customer_impact": "declines"}
EVIDENCE = {"kind": "config", "ref": "serving.yaml", "note": "v3"}


async def test_a_modal_submitted_after_leaving_a_private_incident_is_refused(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Jailbreak of support bot", options=PRIVATE)
    drv, ch = stack.driver, incident.channel_name
    for form, values, block in (("evidence", EVIDENCE, "ref"), ("triage", TRIAGE, "what_happened")):
        await drv.invite("alice", ch, "bob")
        if form == "triage":
            await run(stack, "bob", ch, "triage")
        else:
            await drv.click("bob", action_id=ActionId.ADD_EVIDENCE, channel=ch, message_ts=incident.card_ts,
                            value=str(incident.id))
        await stack.settle()
        assert [v["callback_id"] for v in drv.views_open_for("bob")] == [f"retro_{form}"]
        posted = len(drv.bot_messages(ch))
        await drv.leave("bob", ch)
        status, body = await drv.submit_view("bob", values=values)
        assert status == 200 and body["response_action"] == "errors", body
        assert "private: only members of its channel" in body["errors"][block], body
        await stack.settle()
        assert len(drv.bot_messages(ch)) == posted, form
        await drv.close_view("bob")
    async with stack.deps.session() as s:
        assert not (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).all()
        assert not (await s.exec(select(TriageVersion).where(TriageVersion.incident_id == incident.id))).all()
    # a member who stayed submits the same form and it is recorded
    await run(stack, "alice", ch, "triage")
    status, _ = await drv.submit_view("alice", values=TRIAGE)
    assert status == 200 and not drv.views_open_for("alice")
    await stack.settle()
    assert "submitted triage template v1" in json.dumps(drv.bot_messages(ch))
