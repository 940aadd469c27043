"""Security suite: forged requests on every payload type, mention injection through every echo, authorization."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlmodel import func, select

from bot.app.local import SANDBOX_SECRET, LocalStack
from bot.app.scheduler import ReminderScheduler
from bot.followup import action_items
from bot.ids import ActionId
from storage.models import Evidence, Incident, ProcessedEvent, TimelineEntry
from tests.e2e.helpers import declare, run
from tests.reminder_world import catalog_with
from tests.signing import signed_headers

FORM = "application/x-www-form-urlencoded"


def payloads(channel: str) -> dict[str, tuple[str, str]]:
    """One body of every kind Slack sends to /slack/events (commands both in the incident and declaring one)."""
    event = json.dumps({"token": "t", "team_id": "T0SANDBOX", "api_app_id": "A0SANDBOX", "type": "event_callback",
                        "event_id": "Ev0ATTACK", "event_time": int(time.time()),
                        "event": {"type": "message", "channel": channel, "user": "U0ERIN", "text": "forged",
                                  "ts": "1.000001"}})
    command = urlencode({"command": "/retro", "text": "note forged", "team_id": "T0SANDBOX", "user_id": "U0ERIN",
                         "channel_id": channel, "trigger_id": "x", "response_url": "http://127.0.0.1:9/x"})
    declaring = urlencode({"command": "/retro", "text": "start Forged sev=1", "team_id": "T0SANDBOX",
                           "user_id": "U0ALICE", "channel_id": "C0GENERAL", "trigger_id": "t"})
    action = urlencode({"payload": json.dumps({
        "type": "block_actions", "team": {"id": "T0SANDBOX"}, "user": {"id": "U0ERIN"}, "channel": {"id": channel},
        "actions": [{"action_id": ActionId.TIMELINE_PAGE, "value": "1:1:1"}], "trigger_id": "x"})})
    view = urlencode({"payload": json.dumps({
        "type": "view_submission", "team": {"id": "T0SANDBOX"}, "user": {"id": "U0ERIN"},
        "view": {"callback_id": "retro_evidence", "private_metadata": "{}", "state": {"values": {}}}})})
    return {"event": (event, "application/json"), "command": (command, FORM), "start command": (declaring, FORM),
            "block_actions": (action, FORM), "view_submission": (view, FORM)}


async def stored_rows(stack: LocalStack) -> tuple[int, int, int]:
    """Claimed events, chain entries and incidents: a forgery must change none of them."""
    async with stack.deps.session() as s:
        events = (await s.exec(select(func.count()).select_from(ProcessedEvent))).one()
        entries = (await s.exec(select(func.count()).select_from(TimelineEntry))).one()
        incidents = (await s.exec(select(func.count()).select_from(Incident))).one()
        return int(events), int(entries), int(incidents)


def forge(attack: str, body: str, ctype: str) -> tuple[Any, dict[str, str]]:
    """The body and headers an attacker sends for one payload."""
    if attack == "unsigned":
        return body, {"Content-Type": ctype}
    if attack == "wrong signature":
        return body, signed_headers("guessed-secret", body, content_type=ctype)
    if attack == "replayed 6 minutes later":
        return body, signed_headers(SANDBOX_SECRET, body, timestamp=int(time.time()) - 360, content_type=ctype)
    if attack == "altered after signing":
        altered = body.replace("T0SANDBOX", "T0SANDBOY")
        assert altered != body
        return altered, signed_headers(SANDBOX_SECRET, body, content_type=ctype)
    assert attack == "oversized"
    big = body + ("&pad=" if ctype == FORM else " ") + "x" * (1024 * 1024 + 1)
    return io.BytesIO(big.encode()), signed_headers(SANDBOX_SECRET, big, content_type=ctype)


# Refused before any parsing: a bad signature is 401, a body over Slack's 1 MiB is 413.
ATTACKS = {"unsigned": 401, "wrong signature": 401, "replayed 6 minutes later": 401, "altered after signing": 401,
           "oversized": 413}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_every_route_refuses_forgeries_and_stores_nothing(stack: LocalStack, attack: str) -> None:
    """Each forgery, on every kind of payload, is refused without a trace and leaves the database as it was."""
    incident, _ = await declare(stack, "Forgery target")
    await stack.settle()
    before = await stored_rows(stack)
    async with aiohttp.ClientSession() as http:
        for kind, (body, ctype) in payloads(incident.channel_id).items():
            data, headers = forge(attack, body, ctype)
            async with http.post(stack.events_url, data=data, headers=headers) as resp:
                text = await resp.text()
                assert resp.status == ATTACKS[attack], (kind, resp.status)
                assert "Traceback" not in text and "File \"" not in text
    await stack.settle()
    assert await stored_rows(stack) == before


INJECTIONS = "<!channel> <!here> <!everyone> <!subteam^S0ML|@ml-team> <@U0ERIN> <@U0ERIN|erin>"
LIVE = re.compile(r"<!(channel|here|everyone)|<!subteam\^|<@U0ERIN")


def bot_output(stack: LocalStack) -> str:
    """Everything the bot showed anyone: channel messages, threads, ephemerals, modals, App Home."""
    ws = stack.emulator.state
    parts: list[str] = []
    for channel in ws.channels.values():
        for msg in ws.messages.get(channel.id, {}).values():
            if msg.user == ws.bot_user_id or msg.bot_id:
                parts.append(json.dumps([msg.text, msg.blocks, msg.attachments]))
    parts += [json.dumps(e.as_dict()) for e in ws.ephemerals]
    parts += [json.dumps(h.replies) for h in ws.hooks.values()]
    parts += [json.dumps(v.definition) for v in ws.views.values()]
    return "\n".join(parts)


async def test_no_ping_survives_any_echo(stack: LocalStack) -> None:
    incident, _ = await declare(stack, f"Drift {INJECTIONS}")
    ch = incident.channel_name
    for text in (f"note {INJECTIONS}", f"evidence log https://x.example.com/{INJECTIONS} {INJECTIONS}",
                 f"hypothesis {INJECTIONS}", f"action fix {INJECTIONS} owner=<@U0BOB|bob> due=+3d",
                 f"status mitigated {INJECTIONS}", f"frobnicate {INJECTIONS}", f"role {INJECTIONS}",
                 f"evidence {INJECTIONS} x", "timeline all", "evidence", "hypotheses", "actions"):
        await run(stack, "alice", ch, text)
    await run(stack, "alice", "#general", f"start {INJECTIONS}")
    await stack.settle()
    output = bot_output(stack)
    assert "ml-team" in output or "@channel" in output.replace("\u200b", "")  # the text was echoed, defused
    found = LIVE.findall(output)
    assert not found, found


async def test_non_commander_cannot_close_or_take_command(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Authz drill")
    ch = incident.channel_name
    await stack.driver.join("bob", ch)
    closed = await run(stack, "bob", ch, "status closed")
    assert "Only the incident commander" in closed.text()
    taken = await run(stack, "bob", ch, "role commander <@U0BOB|bob>")
    assert "commander" in taken.text() and "Only" in taken.text()
    async with stack.deps.session() as s:
        row = await s.get(Incident, incident.id)
        assert row is not None
        await s.refresh(row)
        assert row.status == "investigating"


async def test_non_members_cannot_see_or_act_on_a_private_incident(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    assert incident.private
    listing = await run(stack, "erin", "#general", "list")
    assert "Jailbreak" not in listing.text() and incident.channel_name not in listing.text()
    mine = await run(stack, "alice", "#general", "list")
    assert "Jailbreak" in mine.text()
    elsewhere = await run(stack, "erin", "#general", "note hi")
    assert incident.channel_name not in elsewhere.text()
    # a button naming the incident (say, kept from before erin left the channel) must not reveal or change it
    general = stack.driver.channel("#general").id
    async with aiohttp.ClientSession() as http:
        for action_id, value in ((ActionId.TIMELINE_PAGE, f"{incident.id}:1:1"),
                                 (ActionId.OPEN_TRIAGE, str(incident.id)), (ActionId.ASSIGN_ROLES, str(incident.id)),
                                 (ActionId.ADD_EVIDENCE, str(incident.id)), (ActionId.ADD_ACTION, str(incident.id)),
                                 (ActionId.POSTMORTEM, str(incident.id))):
            body = urlencode({"payload": json.dumps({
                "type": "block_actions", "team": {"id": "T0SANDBOX"}, "user": {"id": "U0ERIN", "team_id": "T0SANDBOX"},
                "api_app_id": "A0SANDBOX", "channel": {"id": general}, "container": {"channel_id": general},
                "trigger_id": stack.emulator.issue_trigger("erin"),
                "actions": [{"action_id": action_id, "value": value, "type": "button"}]})})
            async with http.post(stack.events_url, data=body,
                                 headers=signed_headers(SANDBOX_SECRET, body, content_type=FORM)) as resp:
                assert resp.status == 200
    await stack.settle()
    seen = json.dumps(stack.driver.ephemerals("erin")) + json.dumps(stack.driver.dms("erin"))
    assert seen.count("private: only members") == 6
    # modals open at once with a loading view, so a refused one stays open saying why, with no form and nothing private
    refused = stack.driver.views_open_for("erin")
    assert "Jailbreak" not in seen + json.dumps(refused)
    assert refused and all(not v.get("callback_id") and "private: only members" in json.dumps(v) for v in refused)
    assert not [m for m in stack.driver.bot_messages(f"#{incident.channel_name}") if "Postmortem draft" in str(m)]


async def test_files_count_as_evidence_only_where_they_were_shared(stack: LocalStack) -> None:
    private, _ = await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    public, _ = await declare(stack, "Latency drift", options="sev=3 type=infrastructure")
    secret = await stack.driver.share_file("alice", private.channel_name, "hr-export.csv", b"id,salary\n1,9\n")
    await stack.driver.join("erin", public.channel_name)
    await stack.settle()
    for command in (f"evidence file {secret} found it", f"datacheck baseline={secret} current={secret} key=id"):
        result = await run(stack, "erin", public.channel_name, command)
        assert "was not shared in this channel" in result.text(), result.text()
    await stack.settle()
    posted = json.dumps(stack.driver.bot_messages(f"#{public.channel_name}"))
    assert "hr-export" not in posted
    async with stack.deps.session() as s:
        assert not (await s.exec(select(Evidence).where(Evidence.incident_id == public.id))).all()
    own = await stack.driver.share_file("erin", public.channel_name, "latency.csv", b"id,p99\n1,80\n")
    await stack.settle()
    assert "file sha256" in (await run(stack, "erin", public.channel_name, f"evidence file {own} ours")).text()


async def test_the_digest_leaves_out_private_incidents(stack: LocalStack) -> None:
    private, _ = await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    public, _ = await declare(stack, "Latency drift", options="sev=3 type=infrastructure")
    await run(stack, "alice", private.channel_name, "action Rotate the leaked key owner=@bob due=+3d")
    await run(stack, "alice", public.channel_name, "action Add a latency monitor owner=@bob due=+3d")
    stack.deps.catalog = catalog_with(digest={"channel": "ml-followups"})
    stack.emulator.create_channel("ml-followups", creator="alice")
    assert (await ReminderScheduler(stack.deps, stack.bolt.client).digest()).sent == 1
    await stack.settle()
    (post,) = stack.driver.bot_messages("#ml-followups")
    assert "Add a latency monitor" in str(post) and "Rotate the leaked key" not in str(post)
    assert private.channel_id not in str(post)
    async with stack.deps.session() as s:  # the items are all still there for the people who may see them
        everything = await action_items.open_in_team(s, "T0SANDBOX")
    assert {a.title for a, _ in everything} == {"Rotate the leaked key", "Add a latency monitor"}


async def test_stats_count_private_incidents_only_for_their_members(stack: LocalStack) -> None:
    await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    await declare(stack, "Latency drift", options="sev=3 type=infrastructure")
    outsider = await run(stack, "erin", "#general", "stats")
    member = await run(stack, "alice", "#general", "stats")
    assert "1 incident(s)" in outsider.text() and "2 incident(s)" in member.text()
    adversarial = next(line for line in member.text().splitlines() if "dversarial" in line)
    assert adversarial not in outsider.text()


async def test_the_home_tab_drops_a_private_incident_once_its_channel_is_left(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    await stack.driver.invite("alice", incident.channel_name, "bob")
    await run(stack, "bob", incident.channel_name, "note bob was here")
    await stack.driver.open_home("bob")
    await stack.settle()
    assert "Jailbreak" in json.dumps(stack.driver.home_view("bob"))
    await stack.driver.leave("bob", incident.channel_name)
    await stack.driver.open_home("bob")
    await stack.settle()
    assert "Jailbreak" not in json.dumps(stack.driver.home_view("bob"))
    await stack.driver.open_home("alice")
    await stack.settle()
    assert "Jailbreak" in json.dumps(stack.driver.home_view("alice"))
