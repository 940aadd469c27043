"""Channel names: conversations.create's rules (lowercase ASCII, digits, `-`, `_`, <= 80); posts go to ids."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


async def _error(client: AsyncWebClient, name: str) -> str:
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_create(name=name)
    return str(caught.value.response["error"])


@pytest.mark.parametrize("name", ["modèle-drift", "инцидент", "事故-42", "inc-²", "inc-٣", "ǅ-case", "ß-test"])
async def test_letters_and_digits_outside_ascii_are_specials(client: AsyncWebClient, name: str) -> None:
    assert await _error(client, name) == "invalid_name_specials"


async def test_the_limits_are_checked_before_the_characters(client: AsyncWebClient) -> None:
    assert await _error(client, "") == "invalid_name_required"
    assert await _error(client, "é" * 81) == "invalid_name_maxlength"
    assert await _error(client, "a" * 81) == "invalid_name_maxlength"


async def test_every_allowed_character_and_exactly_80(client: AsyncWebClient) -> None:
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    created = await client.conversations_create(name=allowed)
    assert created["channel"]["name"] == allowed
    longest = await client.conversations_create(name="z" * 80)
    assert longest["channel"]["name"] == "z" * 80
    assert await _error(client, "z" * 80) == "name_taken"


@pytest.mark.parametrize("ref", ["general", "#general"])
async def test_messages_go_to_ids_not_names(client: AsyncWebClient, ref: str) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=ref, text="weekly digest")
    assert caught.value.response["error"] == "channel_not_found"
    posted = await client.chat_postMessage(channel="C0GENERAL", text="weekly digest")
    assert posted["channel"] == "C0GENERAL"
