"""The total text a message's blocks may carry, on every way an app posts a message."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.validation import blocks_text_length
from tests.sandbox.fakeapp import FakeApp


def section(chars: int) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": "a" * chars}}


FULL = [section(3000)] * 4
OVER = [*FULL, {"type": "context", "elements": [{"type": "plain_text", "text": "b"}]}]


async def api_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


def test_every_text_object_counts() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 10}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 20},
         "fields": [{"type": "mrkdwn", "text": "f" * 30}, {"type": "plain_text", "text": "g" * 40}],
         "accessory": {"type": "button", "action_id": "x", "value": "v" * 999,
                       "text": {"type": "plain_text", "text": "b" * 5}}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 7},
                                         {"type": "image", "image_url": "https://x/y.png", "alt_text": "i" * 50}]},
        {"type": "actions", "elements": [{"type": "button", "action_id": "y",
                                          "text": {"type": "plain_text", "text": "d" * 3}}]},
        {"type": "divider"},
    ]
    assert blocks_text_length(blocks) == 10 + 20 + 30 + 40 + 5 + 7 + 3


async def test_post_message_refuses_blocks_over_12000_characters(client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=FULL)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=OVER)) \
        == "msg_blocks_too_long"
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 2}
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[*FULL, fields])) \
        == "msg_blocks_too_long"


async def test_update_and_ephemeral_refuse_it_too(client: AsyncWebClient, driver: SlackDriver) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[section(10)])
    assert await api_error(client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="x", blocks=OVER)) \
        == "msg_blocks_too_long"
    kept = driver.messages("#general")[-1]
    assert kept["blocks"][0]["text"]["text"] == "a" * 10
    assert await api_error(client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="x",
                                                     blocks=OVER)) == "msg_blocks_too_long"
    assert driver.ephemerals("alice") == []


async def test_response_url_refuses_it(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    result = await driver.command("alice", "#general", "x")
    async with aiohttp.ClientSession() as http:
        async with http.post(result.response_url, json={"text": "x", "blocks": OVER}) as resp:
            assert (resp.status, (await resp.json())["error"]) == (400, "msg_blocks_too_long")
        async with http.post(result.response_url, json={"text": "x", "blocks": FULL}) as resp:
            assert resp.status == 200
