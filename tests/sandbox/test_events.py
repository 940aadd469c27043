"""Events API delivery: envelopes, signatures, retries, membership filtering and event shapes."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import SlackClock
from tests.sandbox.fakeapp import FakeApp, Received


async def test_delivery_is_signed_and_enveloped(emulator: SlackEmulator, app: FakeApp,
                                                driver: SlackDriver) -> None:
    ts = await driver.post("alice", "#general", "model accuracy dropped")
    await emulator.drain()
    assert len(app.requests) == 1
    request = app.requests[0]
    assert request.signature_ok
    assert request.headers["Content-Type"] == "application/json"
    assert "X-Slack-Retry-Num" not in request.headers
    payload = json.loads(request.body)
    assert payload["type"] == "event_callback" and payload["team_id"] == "T0SANDBOX"
    assert payload["event_id"].startswith("Ev") and isinstance(payload["event_time"], int)
    assert payload["authorizations"][0] == {"enterprise_id": None, "team_id": "T0SANDBOX", "user_id": "U0BOT",
                                            "is_bot": True, "is_enterprise_install": False}
    event = payload["event"]
    assert event["type"] == "message" and "subtype" not in event
    assert event["user"] == "U0ALICE" and event["text"] == "model accuracy dropped"
    assert event["ts"] == ts == event["event_ts"] and event["channel_type"] == "channel"
    assert event["client_msg_id"] and event["blocks"][0]["type"] == "rich_text"
    assert [d.statuses for d in emulator.deliveries] == [[200]]


async def test_retries_on_500_with_retry_headers(emulator: SlackEmulator, app: FakeApp,
                                                 driver: SlackDriver, slack_clock: SlackClock) -> None:
    app.statuses = [500, 503]
    await driver.post("bob", "#general", "hello")
    await emulator.drain()
    slack_clock.advance(60)  # Slack's second retry comes a minute later
    await emulator.drain()
    assert [r.headers.get("X-Slack-Retry-Num") for r in app.requests] == [None, "1", "2"]
    assert [r.headers.get("X-Slack-Retry-Reason") for r in app.requests] == [None, "http_error", "http_error"]
    assert all(r.signature_ok for r in app.requests)
    assert len({json.loads(r.body)["event_id"] for r in app.requests}) == 1
    assert emulator.deliveries[0].statuses == [500, 503, 200] and emulator.deliveries[0].delivered


async def test_gives_up_after_three_retries_and_honours_no_retry(emulator: SlackEmulator, app: FakeApp,
                                                                 driver: SlackDriver, slack_clock: SlackClock) -> None:
    app.statuses = [500] * 4
    await driver.post("bob", "#general", "one")
    for wait in (0, 60, 300):  # Slack's schedule: at once, after a minute, after five
        slack_clock.advance(wait)
        await emulator.drain()
    assert emulator.deliveries[0].statuses == [500, 500, 500, 500]
    assert not emulator.deliveries[0].delivered

    async def no_retry(_: Received) -> web.Response:
        return web.Response(status=500, headers={"X-Slack-No-Retry": "1"})

    app.handler = no_retry
    await driver.post("bob", "#general", "two")
    await emulator.drain()
    assert emulator.deliveries[1].statuses == [500]


async def test_timeouts_are_retried_as_http_timeout(emulator: SlackEmulator, app: FakeApp,
                                                    driver: SlackDriver) -> None:
    emulator.bus.timeout = 0.05
    calls = 0

    async def slow_once(_: Received) -> web.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.2)
        return web.Response()

    app.handler = slow_once
    await driver.post("carol", "#general", "slow")
    await emulator.drain()
    attempts = emulator.deliveries[0].attempts
    assert [a.status for a in attempts] == [None, 200]
    assert app.requests[1].headers["X-Slack-Retry-Reason"] == "http_timeout"


async def test_only_channels_the_bot_is_in(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                           client: AsyncWebClient) -> None:
    outside = emulator.create_channel("random", members=["alice", "bob"])
    await driver.post("alice", outside, "not for the bot")
    await emulator.drain()
    assert app.events("message") == []
    await client.conversations_join(channel=outside)
    await driver.post("alice", outside, "now the bot hears")
    await emulator.drain()
    texts = [e.get("text") for e in app.events("message") if "subtype" not in e]
    assert texts == ["now the bot hears"]
    joins = app.events("member_joined_channel")
    assert [(e["user"], e["channel"]) for e in joins] == [("U0BOT", outside)]
    assert [e["channel"]["name"] for e in app.events("channel_created")] == ["random"]


async def test_message_lifecycle_events(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    ts = await driver.post("alice", "#general", "v1")
    await driver.edit("alice", "#general", ts, "v2")
    await driver.react("bob", "#general", ts, ":eyes:")
    await driver.pin("carol", "#general", ts)
    await driver.delete("alice", "#general", ts)
    await emulator.drain()
    kinds = [(e["type"], e.get("subtype")) for e in app.events()]
    assert kinds == [("message", None), ("message", "message_changed"), ("reaction_added", None),
                     ("pin_added", None), ("message", "message_deleted")]
    changed, deleted = app.events()[1], app.events()[4]
    assert changed["message"]["text"] == "v2" and changed["previous_message"]["text"] == "v1"
    assert changed["message"]["edited"]["user"] == "U0ALICE" and changed["hidden"] is True
    assert deleted["deleted_ts"] == ts and deleted["previous_message"]["text"] == "v2"
    reaction = app.events("reaction_added")[0]
    assert reaction == {"type": "reaction_added", "user": "U0BOB", "reaction": "eyes", "item_user": "U0ALICE",
                        "item": {"type": "message", "channel": "C0GENERAL", "ts": ts},
                        "event_ts": reaction["event_ts"]}
    assert app.events("pin_added")[0]["item"]["message"]["ts"] == ts


async def test_bot_messages_carry_bot_id_and_app_id(emulator: SlackEmulator, app: FakeApp,
                                                    client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="from the app")
    await emulator.drain()
    event = app.events("message")[0]
    assert event["bot_id"] == "B0BOT" and event["user"] == "U0BOT" and event["app_id"] == "A0SANDBOX"
    assert "subtype" not in event


async def test_mention_file_share_and_app_home(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                               client: AsyncWebClient) -> None:
    await driver.post("dave", "#general", "@retro help please, see https://grafana.example.com/d/1.")
    await driver.share_file("dave", "#general", "plot.png", b"\x89PNG", title="Loss curve")
    await client.views_publish(user_id="U0DAVE", view={"type": "home", "blocks": [{"type": "divider"}]})
    await driver.open_home("dave")
    await emulator.drain()
    mention = app.events("app_mention")[0]
    assert mention["text"] == "<@U0BOT> help please, see <https://grafana.example.com/d/1>."
    share = [e for e in app.events("message") if e.get("subtype") == "file_share"][0]
    assert share["files"][0]["title"] == "Loss curve" and share["user"] == "U0DAVE"
    home = app.events("app_home_opened")[0]
    assert home["tab"] == "home" and home["channel"].startswith("D") and home["view"]["type"] == "home"


async def test_deliver_raw_and_redeliver(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    await driver.post("erin", "#general", "hi")
    await emulator.drain()
    event_id = emulator.deliveries[0].event_id
    assert await emulator.redeliver(event_id, retry_num=1) == 200
    assert app.requests[-1].headers["X-Slack-Retry-Num"] == "1"
    assert app.requests[-1].body == app.requests[0].body
    app.statuses = [409]
    raw = {"type": "event_callback", "event_id": "Ev0RAW", "event": {"type": "custom"}}
    assert await emulator.deliver_raw(raw) == 409
    assert app.requests[-1].signature_ok and json.loads(app.requests[-1].body) == raw
    assert emulator.deliveries[-1].event_id == "Ev0RAW"


async def test_no_events_url_drops_events(emulator: SlackEmulator, driver: SlackDriver) -> None:
    await driver.post("alice", "#general", "nobody listens")
    await emulator.drain()
    assert emulator.deliveries[0].dropped and emulator.events("message")[0]["text"] == "nobody listens"


async def test_drain_waits_for_follow_up_work(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                              client: AsyncWebClient) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def echo(received: Received) -> web.Response:
        event = json.loads(received.body)["event"]
        if event.get("user") != "U0BOT" and event["type"] == "message" and "subtype" not in event:
            async def later() -> None:
                await client.chat_postMessage(channel=event["channel"], text="echo: " + event["text"])
            # Like Bolt, answer first and do the work afterwards.
            tasks.append(asyncio.create_task(later()))
        return web.Response()

    app.handler = echo
    await driver.post("bob", "#general", "ping")
    await emulator.drain()
    assert [m["text"] for m in driver.bot_messages("#general")] == ["echo: ping"]


async def test_humans_invite_the_app_and_leave(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                               client: AsyncWebClient) -> None:
    room = emulator.create_channel("ml-oncall", members=["alice", "bob"])
    await driver.invite("alice", room, "retro")
    await driver.leave("bob", room)
    await emulator.drain()
    joined = app.events("member_joined_channel")
    assert [(e["user"], e["inviter"]) for e in joined] == [("U0BOT", "U0ALICE")]
    assert [e["user"] for e in app.events("member_left_channel")] == ["U0BOB"]
    assert (await client.conversations_members(channel=room))["members"] == ["U0ALICE", "U0BOT"]
    subtypes = [m.get("subtype") for m in driver.messages(room, include_system=True)]
    assert subtypes == ["channel_join"] * 3 + ["channel_leave"]


async def test_url_verification_and_retired_methods(emulator: SlackEmulator, app: FakeApp,
                                                    client: AsyncWebClient) -> None:
    async def echo_challenge(received: Received) -> web.Response:
        return web.json_response({"challenge": json.loads(received.body)["challenge"]})

    app.handler = echo_challenge
    assert await emulator.verify_url() is True
    assert app.requests[0].signature_ok
    for method, error in (("files.upload", "method_deprecated"), ("chat.frobnicate", "unknown_method")):
        with pytest.raises(SlackApiError) as info:
            await client.api_call(method, params={})
        assert info.value.response.status_code == 200 and info.value.response["error"] == error


async def test_only_subscribed_events_are_sent(emulator: SlackEmulator, app: FakeApp,
                                               driver: SlackDriver) -> None:
    emulator.bus.subscriptions = {"message.im", "reaction_added"}
    ts = await driver.post("alice", "#general", "channel message")
    await driver.react("bob", "#general", ts, "eyes")
    await driver.dm("carol", "direct message")
    await emulator.drain()
    assert [(e["type"], e.get("channel_type")) for e in app.events()] == [("reaction_added", None),
                                                                         ("message", "im")]
    assert [d.dropped for d in emulator.deliveries] == [True, False, False]
