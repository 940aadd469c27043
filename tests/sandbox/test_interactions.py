"""Slash commands, response_url, clicks and modals as the driver performs them against an app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator, SlackError
from tests.sandbox.conftest import SlackClock
from tests.sandbox.fakeapp import FakeApp, Received

MODAL: dict[str, Any] = {
    "type": "modal", "callback_id": "start_incident", "private_metadata": '{"channel": "C0GENERAL"}',
    "title": {"type": "plain_text", "text": "Start an incident"},
    "submit": {"type": "plain_text", "text": "Start"},
    "blocks": [
        {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
         "element": {"type": "plain_text_input", "action_id": "value"}},
        {"type": "input", "block_id": "commander", "label": {"type": "plain_text", "text": "Commander"},
         "element": {"type": "users_select", "action_id": "user"}},
        {"type": "input", "block_id": "sev", "optional": True, "label": {"type": "plain_text", "text": "Sev"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": "SEV1"}, "value": "1"},
             {"text": {"type": "plain_text", "text": "SEV2"}, "value": "2"}]}},
    ],
}
BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Incident* opened"}},
    {"type": "actions", "block_id": "controls", "elements": [
        {"type": "button", "action_id": "ack", "value": "inc-1", "text": {"type": "plain_text", "text": "Ack"}},
        {"type": "users_select", "action_id": "assign",
         "placeholder": {"type": "plain_text", "text": "Assign"}}]},
]


def answer(body: Any = None, status: int = 200) -> web.Response:
    if body is None:
        return web.Response(status=status)
    return web.json_response(body, status=status)


async def post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def test_command_is_posted_like_slack(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    result = await driver.command("alice", "#general", "start @bob in #general see https://x.example.com")
    assert result.ok and result.ack_body is None and result.ack_seconds < 1
    form = app.forms()[0]
    assert app.requests[0].signature_ok
    assert set(form) == {"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
                         "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id"}
    assert form["text"] == "start <@U0BOB|bob> in <#C0GENERAL|general> see <https://x.example.com>"
    assert (form["user_id"], form["user_name"], form["channel_id"], form["channel_name"]) == \
        ("U0ALICE", "alice", "C0GENERAL", "general")
    assert form["response_url"] == result.response_url and form["trigger_id"] == result.trigger_id
    raw = await driver.command("alice", "#general", "note @bob", escape=False)
    assert raw.ok and app.forms()[1]["text"] == "note @bob"
    assert await result.replies() == []


async def test_ack_body_response_url_and_ephemerals_are_collected(emulator: SlackEmulator, app: FakeApp,
                                                                  driver: SlackDriver,
                                                                  client: AsyncWebClient) -> None:
    async def handler(received: Received) -> web.Response:
        form = received.form
        if "command" not in form:
            return answer()

        async def later() -> None:
            await post_json(form["response_url"], {"text": "step 2 (ephemeral)"})
            await client.chat_postEphemeral(channel=form["channel_id"], user=form["user_id"], text="step 3")
            await post_json(form["response_url"], {"response_type": "in_channel", "text": "step 4 for all"})

        tasks.append(asyncio.create_task(later()))
        return answer({"text": "step 1 (ack)"})

    tasks: list[asyncio.Task[None]] = []
    app.handler = handler
    result = await driver.command("bob", "#general", "status")
    replies = await result.replies()
    assert [(r["via"], r["response_type"], r["text"]) for r in replies] == [
        ("ack", "ephemeral", "step 1 (ack)"), ("response_url", "ephemeral", "step 2 (ephemeral)"),
        ("chat.postEphemeral", "ephemeral", "step 3"), ("response_url", "in_channel", "step 4 for all")]
    assert result.text() == "step 1 (ack)\nstep 2 (ephemeral)\nstep 3\nstep 4 for all"
    assert [e["text"] for e in driver.ephemerals("bob", "#general")] == ["step 1 (ack)", "step 2 (ephemeral)",
                                                                         "step 3"]
    assert driver.ephemerals("alice") == []
    assert [m["text"] for m in driver.bot_messages("#general")] == ["step 4 for all"]


async def test_slow_ack_times_out(emulator: SlackEmulator, app: FakeApp) -> None:
    async def slow(_: Received) -> web.Response:
        await asyncio.sleep(0.3)
        return answer({"text": "too late"})

    app.handler = slow
    result = await SlackDriver(emulator, ack_timeout=0.1).command("alice", "#general", "help")
    assert result.timed_out and not result.ok and result.status is None
    assert result.collected() == []


async def test_response_url_is_limited_to_five_uses(emulator: SlackEmulator, app: FakeApp,
                                                    driver: SlackDriver) -> None:
    result = await driver.command("alice", "#general", "x")
    statuses = [(await post_json(result.response_url, {"text": f"r{i}"}))[0] for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert (await post_json(result.response_url, {"text": "again"}))[1]["error"] == "used_url"
    assert (await post_json(result.response_url + "x", {"text": "?"}))[0] == 404


async def test_triggers_expire_and_are_single_use(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                                  client: AsyncWebClient, slack_clock: SlackClock) -> None:
    result = await driver.command("alice", "#general", "start")
    opened = await client.views_open(trigger_id=result.trigger_id, view=MODAL)
    assert opened["view"]["id"].startswith("V") and opened["view"]["callback_id"] == "start_incident"
    assert [v["id"] for v in driver.views_open_for("alice")] == [opened["view"]["id"]]
    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id=result.trigger_id, view=MODAL)
    assert reused.value.response["error"] == "exchanged_trigger_id"
    stale = emulator.issue_trigger("bob")
    slack_clock.advance(emulator.trigger_ttl + 0.05)
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=stale, view=MODAL)
    assert expired.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        await client.views_open(trigger_id="123.456.abc", view=MODAL)
    assert unknown.value.response["error"] == "invalid_trigger_id"
    assert driver.views_open_for("bob") == []


@pytest.mark.parametrize("change", [
    {"title": {"type": "plain_text", "text": "x" * 25}},
    {"blocks": [{"type": "divider"}] * 101},
    {"submit": None},
    {"type": "home"},
    {"private_metadata": "m" * 3001},
])
async def test_invalid_views_are_rejected(emulator: SlackEmulator, client: AsyncWebClient,
                                          change: dict[str, Any]) -> None:
    view = {**MODAL, **change}
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=emulator.issue_trigger("alice"), view=view)
    assert info.value.response["error"] == "invalid_arguments"
    assert info.value.response["response_metadata"]["messages"]


async def test_modal_submission_round_trip(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                           client: AsyncWebClient) -> None:
    view_id = (await client.views_open(trigger_id=emulator.issue_trigger("alice"), view=MODAL))["view"]["id"]
    with pytest.raises(SlackError) as missing:
        await driver.submit_view("alice", view_id, {"title": {"value": "Drift"}})
    assert missing.value.error == "required_fields_missing" and missing.value.extra["fields"] == ["commander"]
    assert app.requests == []
    replies = [answer({"response_action": "errors", "errors": {"title": "Too short"}}), answer()]

    async def handler(_: Received) -> web.Response:
        return replies.pop(0)

    app.handler = handler
    status, body = await driver.submit_view("alice", view_id, {"title": "AB", "commander": "@bob"})
    assert status == 200 and body == {"response_action": "errors", "errors": {"title": "Too short"}}
    assert [v["id"] for v in driver.views_open_for("alice")] == [view_id]
    status, body = await driver.submit_view("alice", view_id, {"title": "Model drift", "commander": "bob",
                                                               "sev": "2"})
    assert status == 200 and body is None and driver.views_open_for("alice") == []
    payload = app.interactions("view_submission")[-1]
    view = payload["view"]
    assert payload["user"]["id"] == "U0ALICE" and payload["trigger_id"]
    assert view["callback_id"] == "start_incident" and view["private_metadata"] == MODAL["private_metadata"]
    assert view["state"]["values"] == {
        "title": {"value": {"type": "plain_text_input", "value": "Model drift"}},
        "commander": {"user": {"type": "users_select", "selected_user": "U0BOB"}},
        "sev": {"pick": {"type": "static_select",
                         "selected_option": {"text": {"type": "plain_text", "text": "SEV2"}, "value": "2"}}}}
    assert view["hash"] and view["id"] == view_id


async def test_response_actions_update_push_and_clear(emulator: SlackEmulator, app: FakeApp,
                                                      driver: SlackDriver, client: AsyncWebClient) -> None:
    view_id = (await client.views_open(trigger_id=emulator.issue_trigger("carol"), view=MODAL))["view"]["id"]
    step = {**MODAL, "title": {"type": "plain_text", "text": "Step 2"}}
    replies = [answer({"response_action": "update", "view": step}),
               answer({"response_action": "push", "view": step}),
               answer({"response_action": "clear"})]

    async def handler(_: Received) -> web.Response:
        return replies.pop(0)

    app.handler = handler
    values = {"title": "t", "commander": "carol"}
    await driver.submit_view("carol", view_id, values)
    assert [v["title"]["text"] for v in driver.views_open_for("carol")] == ["Step 2"]
    await driver.submit_view("carol", None, values)
    assert len(driver.views_open_for("carol")) == 2
    await driver.submit_view("carol", None, values)
    assert driver.views_open_for("carol") == []


async def test_views_update_hash_and_push_limit(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id=emulator.issue_trigger("dave"), view=MODAL))["view"]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert updated["view"]["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert stale.value.response["error"] == "hash_conflict"
    with pytest.raises(SlackApiError) as gone:
        await client.views_update(view_id="V404", view=MODAL)
    assert gone.value.response["error"] == "not_found"
    for _ in range(2):
        await client.views_push(trigger_id=emulator.issue_trigger("dave"), view=MODAL)
    with pytest.raises(SlackApiError) as limit:
        await client.views_push(trigger_id=emulator.issue_trigger("dave"), view=MODAL)
    assert limit.value.response["error"] == "push_limit_reached"


async def test_click_sends_block_actions(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                         client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C0GENERAL", text="Incident", blocks=BUTTONS))["ts"]
    assert await driver.click("alice", channel="#general", message_ts=ts, action_id="ack") == 200
    payload = app.interactions("block_actions")[0]
    assert payload["user"] == {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0SANDBOX"}
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": "C0GENERAL",
                                    "is_ephemeral": False}
    assert payload["channel"] == {"id": "C0GENERAL", "name": "general"}
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"][1]["block_id"] == "controls"
    assert payload["trigger_id"] and payload["response_url"].startswith(emulator.base_url)
    action = payload["actions"][0]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == \
        ("button", "ack", "controls", "inc-1")
    await driver.click("bob", channel="#general", message_ts=ts, action_id="assign", selected_user="carol")
    select = app.interactions("block_actions")[1]
    assert select["actions"][0]["selected_user"] == "U0CAROL"
    assert select["state"]["values"] == {"controls": {"assign": {"type": "users_select",
                                                                 "selected_user": "U0CAROL"}}}
    with pytest.raises(LookupError):
        await driver.click("bob", channel="#general", message_ts=ts, action_id="nope")
    status, _ = await post_json(payload["response_url"], {"replace_original": True, "text": "Acked by alice"})
    assert status == 200 and driver.bot_messages("#general")[0]["text"] == "Acked by alice"
    await emulator.drain()
    assert app.events("message")[-1]["subtype"] == "message_changed"


async def test_click_on_ephemeral_message(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                          client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel="C0GENERAL", user="U0ERIN", text="Confirm?", blocks=BUTTONS)
    await driver.click("erin", channel="#general", message_ts=eph["message_ts"], action_id="ack")
    payload = app.interactions("block_actions")[0]
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    await post_json(payload["response_url"], {"replace_original": True, "text": "Confirmed"})
    assert [e["text"] for e in driver.ephemerals("erin")] == ["Confirmed"]
    await post_json(payload["response_url"], {"delete_original": True})
    assert driver.ephemerals("erin") == []


async def test_clicks_in_modal_and_home(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                        client: AsyncWebClient) -> None:
    modal = {**MODAL, "blocks": [*MODAL["blocks"], *BUTTONS]}
    view_id = (await client.views_open(trigger_id=emulator.issue_trigger("alice"), view=modal))["view"]["id"]
    await driver.click("alice", view_id=view_id, action_id="assign", selected_user="dave")
    in_modal = app.interactions("block_actions")[0]
    assert in_modal["container"] == {"type": "view", "view_id": view_id}
    assert in_modal["view"]["state"]["values"]["controls"]["assign"]["selected_user"] == "U0DAVE"
    assert "response_url" not in in_modal
    await client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": BUTTONS})
    await driver.click("alice", home=True, action_id="ack")
    home = app.interactions("block_actions")[1]
    assert home["view"]["type"] == "home" and home["actions"][0]["value"] == "inc-1"
    assert json.loads(json.dumps(driver.home_view("alice")))["blocks"][0]["block_id"] == "summary"
