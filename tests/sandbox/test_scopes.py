"""Scopes: every method answers missing_scope (with needed and provided) unless the caller's token grants it."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.oauth import manifest_scopes
from sandbox import SlackEmulator
from sandbox.scopes import METHOD_SCOPES
from sandbox.webapi import HANDLERS
from tests.sandbox.conftest import TOKEN
from tests.sandbox.test_oauth import BASIC_AUTH_DEPRECATED, CLIENT_ID, CLIENT_SECRET, REDIRECT, authorize_url

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def client_with(emulator: SlackEmulator, *scopes: str) -> AsyncWebClient:
    grant = emulator.tenancy.grant(emulator.state, scopes=scopes)
    return AsyncWebClient(token=grant.token, base_url=emulator.api_url)


async def refusal(call: Awaitable[Any]) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        await call
    assert info.value.response.status_code == 200
    data = info.value.response.data
    assert isinstance(data, dict)
    return data


def test_every_served_method_names_its_scopes() -> None:
    assert set(METHOD_SCOPES) == set(HANDLERS)


def test_seeded_tokens_hold_exactly_the_manifest_scopes(emulator: SlackEmulator) -> None:
    bot = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"]
    assert emulator.tenancy.tokens[TOKEN].scopes == bot
    assert sorted(manifest_scopes()) == sorted(bot)
    other = emulator.add_workspace("T0OTHER", name="Other", domain="other")
    assert emulator.tenancy.tokens[emulator.bot_token_for(other.team_id)].scopes == bot


async def test_a_method_without_its_scope_is_refused(emulator: SlackEmulator) -> None:
    narrow = client_with(emulator, "channels:read", "commands")
    refused = await refusal(narrow.chat_postMessage(channel="C0GENERAL", text="hello"))
    assert refused == {"ok": False, "error": "missing_scope", "needed": "chat:write",
                       "provided": "channels:read,commands"}
    assert emulator.state.messages["C0GENERAL"] == {}
    allowed = client_with(emulator, "chat:write")
    assert (await allowed.chat_postMessage(channel="C0GENERAL", text="hello"))["ok"]


async def test_the_refusal_is_http_200_json(emulator: SlackEmulator) -> None:
    grant = emulator.tenancy.grant(emulator.state, scopes=["chat:write"])
    async with aiohttp.ClientSession() as http, http.post(
            emulator.api_url + "users.info", data={"user": "U0BOB"},
            headers={"Authorization": f"Bearer {grant.token}"}) as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": False, "error": "missing_scope", "needed": "users:read",
                                     "provided": "chat:write"}


async def test_methods_without_scopes_need_none(emulator: SlackEmulator) -> None:
    bare = client_with(emulator)
    assert (await bare.auth_test())["ok"]
    assert (await bare.views_publish(user_id="U0BOB", view={"type": "home", "blocks": []}))["ok"]
    refused = await refusal(bare.files_info(file="F0NONE"))
    assert refused["needed"] == "files:read" and refused["provided"] == ""


async def test_a_conversation_needs_the_scope_of_its_own_kind(emulator: SlackEmulator) -> None:
    made = await client_with(emulator, "groups:write").conversations_create(name="secret", is_private=True)
    secret = made["channel"]["id"]
    public_only = client_with(emulator, "channels:history", "channels:manage")
    assert (await public_only.conversations_history(channel="C0GENERAL"))["ok"]
    refused = await refusal(public_only.conversations_history(channel=secret))
    assert refused["needed"] == "groups:history"
    refused = await refusal(public_only.conversations_create(name="hidden", is_private=True))
    assert refused["needed"] == "groups:write" and "hidden" not in {c.name for c in emulator.state.channels.values()}
    assert (await public_only.conversations_create(name="open-room"))["ok"]
    refused = await refusal(client_with(emulator, "groups:history").conversations_history(channel="C0GENERAL"))
    assert refused["needed"] == "channels:history"
    assert (await client_with(emulator, "groups:history").conversations_history(channel=secret))["ok"]


async def test_an_unknown_conversation_needs_any_scope_of_the_family(emulator: SlackEmulator) -> None:
    refused = await refusal(client_with(emulator, "chat:write").conversations_history(channel="C0NOWHERE"))
    assert refused["needed"] == "channels:history,groups:history,mpim:history,im:history"
    with pytest.raises(SlackApiError) as info:
        await client_with(emulator, "im:history").conversations_history(channel="C0NOWHERE")
    assert info.value.response["error"] == "channel_not_found"


async def test_listing_needs_the_read_scope_of_every_type_asked(emulator: SlackEmulator) -> None:
    reader = client_with(emulator, "channels:read")
    assert (await reader.conversations_list(types="public_channel"))["ok"]
    refused = await refusal(reader.conversations_list(types="public_channel,private_channel,im"))
    assert refused["needed"] == "groups:read,im:read" and refused["provided"] == "channels:read"


@pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)
async def test_an_oauth_install_holds_what_was_granted(emulator: SlackEmulator) -> None:
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    redirect = await emulator.oauth_authorize(authorize_url(emulator), user="carol", team_id="T0ACME")
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    resp = await AsyncWebClient(base_url=emulator.api_url).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT)
    installed = AsyncWebClient(token=resp["access_token"], base_url=emulator.api_url)
    carol = emulator.workspace_for("T0ACME").user("carol").id
    assert (await installed.chat_postMessage(channel=carol, text="hi"))["ok"]
    refused = await refusal(installed.users_list())
    assert refused["needed"] == "users:read" and refused["provided"] == "chat:write,commands"
