"""What a person sees of a text object: Slack resolves mentions, channels and links in mrkdwn, never in plain_text
(headers, buttons, labels, options, modal titles): there `<@U…>` is shown exactly as written."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.render import blocks_text, message_text, render_message

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Owner <@U0BOB>"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "Owner <@U0BOB> in <#C0GENERAL|general>"}},
    {"type": "actions", "elements": [{"type": "button", "action_id": "b", "text": {"type": "plain_text",
                                                                                  "text": "Ask <@U0BOB>"}}]},
]


def test_mentions_resolve_in_mrkdwn_only() -> None:
    names = {"U0BOB": "bob"}
    assert blocks_text(BLOCKS, names).splitlines() == ["Owner <@U0BOB>", "Owner @bob in #general", "Ask <@U0BOB>"]
    assert message_text({"text": "fallback <@U0BOB>", "blocks": BLOCKS[:1]}, names) == \
        "fallback @bob\nOwner <@U0BOB>"


async def test_a_posted_header_shows_its_markup_as_written(emulator: SlackEmulator, driver: SlackDriver,
                                                           client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="owner", blocks=BLOCKS)
    posted = driver.messages("#general")[-1]
    shown = render_message(posted, names={u.id: u.name for u in driver.ws.users.values()}).text
    assert "Owner <@U0BOB>" in shown and "Owner @bob in #general" in shown
