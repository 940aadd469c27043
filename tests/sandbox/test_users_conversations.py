"""users.conversations as Slack answers it to a bot token: types, membership seen through the bot, pages, scopes."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator


async def every_page(client: AsyncWebClient, **args: Any) -> tuple[list[dict[str, Any]], int]:
    """Every channel over every page, and how many pages it took."""
    found: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        resp = await client.users_conversations(cursor=cursor, **args)
        pages += 1
        found += resp["channels"]
        cursor = resp["response_metadata"]["next_cursor"]
        if not cursor:
            return found, pages


async def test_private_channels_of_a_person_only_where_the_bot_is_too(client: AsyncWebClient,
                                                                      emulator: SlackEmulator) -> None:
    shared = emulator.create_channel("inc-shared", members=["bob", "retro"], is_private=True)
    hidden = emulator.create_channel("inc-hidden", members=["bob"], is_private=True)
    emulator.create_channel("inc-not-bobs", members=["carol", "retro"], is_private=True)
    public = emulator.create_channel("ml-alerts", members=["bob"])
    private, _ = await every_page(client, user="U0BOB", types="private_channel")
    assert [c["id"] for c in private] == [shared]
    (channel,) = private
    assert channel["name"] == "inc-shared" and channel["is_private"] is True and channel["is_group"] is True
    assert "is_member" not in channel
    both, _ = await every_page(client, user="U0BOB", types="public_channel,private_channel")
    assert {c["id"] for c in both} == {"C0GENERAL", public, shared} and hidden not in {c["id"] for c in both}
    # without types, public channels only; without user, the bot's own
    default, _ = await every_page(client, user="U0BOB")
    assert {c["id"] for c in default} == {"C0GENERAL", public}
    own, _ = await every_page(client, types="private_channel")
    assert {c["id"] for c in own} == {shared, emulator.channel("#inc-not-bobs").id}


async def test_leaving_and_archiving(client: AsyncWebClient, emulator: SlackEmulator, driver: SlackDriver) -> None:
    room = emulator.create_channel("inc-room", members=["bob", "carol", "retro"], is_private=True)
    archived = (await client.conversations_create(name="inc-old", is_private=True))["channel"]["id"]
    await client.conversations_invite(channel=archived, users="U0BOB")
    await client.conversations_archive(channel=archived)
    listed, _ = await every_page(client, user="U0BOB", types="private_channel")
    assert {c["id"] for c in listed} == {room, archived}
    assert next(c for c in listed if c["id"] == archived)["is_archived"] is True
    live, _ = await every_page(client, user="U0BOB", types="private_channel", exclude_archived=True)
    assert [c["id"] for c in live] == [room]
    await driver.leave("bob", "inc-room")
    assert room not in {c["id"] for c in (await every_page(client, user="U0BOB", types="private_channel"))[0]}
    await driver.leave("retro", "inc-room")  # the bot was removed: carol's channel is no longer visible to it
    assert room not in {c["id"] for c in (await every_page(client, user="U0CAROL", types="private_channel"))[0]}


async def test_pages_are_cut_before_filtering(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    mine = [emulator.create_channel(f"inc-{n}", members=["bob", "retro"], is_private=True) for n in range(5)]
    for n in range(6):
        emulator.create_channel(f"other-{n}", members=["carol"])
    mine.append(emulator.create_channel("inc-last", members=["bob", "retro"], is_private=True))
    first = await client.users_conversations(user="U0BOB", types="private_channel", limit=4)
    assert len(first["channels"]) < 4 and first["response_metadata"]["next_cursor"]  # short, yet not the end
    found, pages = await every_page(client, user="U0BOB", types="private_channel", limit=4)
    assert [c["id"] for c in found] == mine and pages > 2
    whole, pages = await every_page(client, user="U0BOB", types="private_channel", limit=999)
    assert [c["id"] for c in whole] == mine and pages == 1


@pytest.mark.parametrize(("args", "error"), [
    ({"types": "private"}, "invalid_types"),
    ({"types": "public_channel,channels"}, "invalid_types"),
    ({"limit": "many"}, "invalid_limit"),
    ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ({"user": "U0NOBODY"}, "user_not_found"),
])
async def test_bad_arguments(client: AsyncWebClient, args: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.users_conversations(**args)
    assert info.value.response["error"] == error


async def test_each_type_needs_its_read_scope(emulator: SlackEmulator) -> None:
    grant = emulator.tenancy.grant(emulator.state, scopes=["commands", "chat:write", "channels:read"])
    client = AsyncWebClient(token=grant.token, base_url=emulator.api_url)
    assert (await client.users_conversations(user="U0BOB", types="public_channel"))["ok"]
    with pytest.raises(SlackApiError) as info:
        await client.users_conversations(user="U0BOB", types="public_channel,private_channel,im")
    refused = info.value.response
    assert refused["error"] == "missing_scope" and refused["needed"] == "groups:read,im:read"
    assert refused["provided"] == "channels:read,chat:write,commands"
    granted = emulator.tenancy.grant(emulator.state, scopes=["channels:read", "groups:read"])
    wider = AsyncWebClient(token=granted.token, base_url=emulator.api_url)
    assert (await wider.users_conversations(user="U0BOB", types="public_channel,private_channel"))["ok"]
