"""A real slack_bolt app behind the emulator: Bolt must accept everything the sandbox sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond, AsyncSay
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import SECRET, TOKEN
from tests.sandbox.test_interactions import BUTTONS, MODAL


def build_bolt(api_url: str) -> AsyncApp:
    bolt = AsyncApp(token=TOKEN, signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=api_url))

    @bolt.command("/retro")
    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond,
                         client: AsyncWebClient) -> None:
        await ack()
        if body["text"] == "start":
            await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        else:
            await respond(text=f"you said: {body['text']}")
            await client.chat_postMessage(channel=body["channel_id"], text="Incident", blocks=BUTTONS)

    @bolt.view("start_incident")
    async def on_submit(ack: AsyncAck, view: dict[str, Any], body: dict[str, Any],
                        client: AsyncWebClient) -> None:
        title = view["state"]["values"]["title"]["value"]["value"]
        if len(title) < 3:
            await ack(response_action="errors", errors={"title": "Too short"})
            return
        await ack()
        channel = json.loads(view["private_metadata"])["channel"]
        await client.chat_postMessage(channel=channel, text=f"Started: {title} by <@{body['user']['id']}>")

    @bolt.action("ack")
    async def on_ack(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        await respond(replace_original=True, text=f"Acked by <@{body['user']['id']}>")

    @bolt.event("message")
    async def on_message(event: dict[str, Any], say: AsyncSay) -> None:
        if event.get("subtype") is None:
            await say(text=f"heard: {event['text']}", thread_ts=event["ts"])

    return bolt


@pytest.fixture
async def bolt_app(emulator: SlackEmulator) -> AsyncIterator[AsyncApp]:
    bolt = build_bolt(emulator.api_url)
    runner = web.AppRunner(bolt.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    emulator.events_url = f"http://127.0.0.1:{port}/slack/events"
    try:
        yield bolt
    finally:
        await emulator.drain()
        await runner.cleanup()


@pytest.mark.usefixtures("bolt_app")
async def test_bolt_handles_commands_clicks_and_events(emulator: SlackEmulator, driver: SlackDriver) -> None:
    result = await driver.command("alice", "#general", "hello")
    assert result.ok
    assert [r["text"] for r in await result.replies()] == ["you said: hello"]
    incident = driver.bot_messages("#general")[-1]
    assert incident["text"] == "Incident"
    assert await driver.click("bob", channel="#general", message_ts=incident["ts"], action_id="ack") == 200
    await emulator.drain()
    assert driver.bot_messages("#general", include_threads=False)[-1]["text"] == "Acked by <@U0BOB>"
    ts = await driver.post("carol", "#general", "anyone there?")
    await emulator.drain()
    assert [m["text"] for m in driver.thread("#general", ts)] == ["anyone there?", "heard: anyone there?"]
    assert all(d.delivered for d in emulator.deliveries)
    assert emulator.calls_for("auth.test")


@pytest.mark.usefixtures("bolt_app")
async def test_bolt_modal_flow(emulator: SlackEmulator, driver: SlackDriver) -> None:
    result = await driver.command("alice", "#general", "start")
    await result.replies()
    assert [v["title"]["text"] for v in driver.views_open_for("alice")] == ["Start an incident"]
    status, body = await driver.submit_view("alice", values={"title": "AB", "commander": "bob"})
    assert status == 200 and body["errors"] == {"title": "Too short"}
    status, body = await driver.submit_view("alice", values={"title": "Feature store lag", "commander": "bob"})
    assert status == 200 and body is None and driver.views_open_for("alice") == []
    await emulator.drain()
    assert driver.bot_messages("#general")[-1]["text"] == "Started: Feature store lag by <@U0ALICE>"
