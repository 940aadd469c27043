"""Web API rules the bot can get wrong, exercised through the real slack_sdk AsyncWebClient."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import TOKEN, SlackClock


async def api_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


@pytest.mark.parametrize(("name", "error"), [
    ("", "invalid_name_required"),
    ("x" * 81, "invalid_name_maxlength"),
    ("Inc-Upper", "invalid_name_specials"),
    ("inc 42", "invalid_name_specials"),
    ("inc.42", "invalid_name_specials"),
    ("inc#42", "invalid_name_specials"),
    ("---", "invalid_name_punctuation"),
    ("_-_", "invalid_name_punctuation"),
])
async def test_channel_name_rules(client: AsyncWebClient, name: str, error: str) -> None:
    assert await api_error(client.conversations_create(name=name)) == error


async def test_valid_names_and_name_taken_even_when_archived(client: AsyncWebClient,
                                                             emulator: SlackEmulator) -> None:
    created = await client.conversations_create(name="inc-2024-01-01_model-drift" + "x" * 54)
    assert len(created["channel"]["name"]) == 80
    first = await client.conversations_create(name="inc-42")
    assert first["channel"]["is_member"] is True and first["channel"]["creator"] == "U0BOT"
    assert await api_error(client.conversations_create(name="inc-42")) == "name_taken"
    await client.conversations_archive(channel=first["channel"]["id"])
    assert await api_error(client.conversations_create(name="inc-42")) == "name_taken"
    assert await api_error(client.conversations_create(name="general")) == "name_taken"
    private = await client.conversations_create(name="inc-secret", is_private=True)
    assert private["channel"]["id"].startswith("G") and private["channel"]["is_private"] is True


async def test_not_in_channel_until_the_bot_joins(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    public = emulator.create_channel("ml-alerts", members=["alice", "bob"])
    assert await api_error(client.chat_postMessage(channel=public, text="hi")) == "not_in_channel"
    assert await api_error(client.conversations_setTopic(channel=public, topic="t")) == "not_in_channel"
    assert await api_error(client.conversations_history(channel=public)) == "not_in_channel"
    assert await api_error(client.conversations_invite(channel=public, users="U0CAROL")) == "not_in_channel"
    info = await client.conversations_info(channel=public)
    assert info["channel"]["is_member"] is False
    joined = await client.conversations_join(channel=public)
    assert joined["channel"]["is_member"] is True
    posted = await client.chat_postMessage(channel=public, text="hi")
    assert await api_error(client.pins_add(channel="C0GENERAL", timestamp=posted["ts"])) == "message_not_found"
    await client.pins_add(channel=public, timestamp=posted["ts"])
    assert emulator.call_count("chat.postMessage") == 2
    assert emulator.calls_for("chat.postMessage")[0].error == "not_in_channel"


async def test_private_channels_are_invisible_to_outsiders(client: AsyncWebClient,
                                                           emulator: SlackEmulator) -> None:
    secret = emulator.create_channel("hr-private", members=["alice"], is_private=True)
    assert await api_error(client.conversations_info(channel=secret)) == "channel_not_found"
    assert await api_error(client.chat_postMessage(channel=secret, text="x")) == "channel_not_found"
    assert await api_error(client.conversations_join(channel=secret)) == "channel_not_found"
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert secret not in {c["id"] for c in listed["channels"]}


async def test_unknown_ids(client: AsyncWebClient) -> None:
    assert await api_error(client.conversations_info(channel="C404")) == "channel_not_found"
    assert await api_error(client.chat_postMessage(channel="C404", text="x")) == "channel_not_found"
    assert await api_error(client.users_info(user="U404")) == "user_not_found"
    assert await api_error(client.users_info(user="alice")) == "user_not_found"
    assert await api_error(client.conversations_invite(channel="C0GENERAL", users="U404")) == "user_not_found"


async def test_invite_reports_already_in_channel(client: AsyncWebClient) -> None:
    ch = (await client.conversations_create(name="inc-7"))["channel"]["id"]
    invited = await client.conversations_invite(channel=ch, users="U0ALICE,U0BOB")
    assert invited["channel"]["id"] == ch
    with pytest.raises(SlackApiError) as info:
        await client.conversations_invite(channel=ch, users=["U0ALICE"])
    assert info.value.response["error"] == "already_in_channel"
    assert info.value.response["errors"] == [{"user": "U0ALICE", "ok": False, "error": "already_in_channel"}]
    mixed = await client.conversations_invite(channel=ch, users="U0ALICE,U0CAROL")
    assert mixed["ok"] is True
    members = (await client.conversations_members(channel=ch))["members"]
    assert members == ["U0BOT", "U0ALICE", "U0BOB", "U0CAROL"]
    assert await api_error(client.conversations_invite(channel=ch, users="U0BOT")) == "cant_invite_self"


async def test_block_kit_limits(client: AsyncWebClient, slack_clock: SlackClock) -> None:
    # chat.postMessage takes about one message a second per channel: a second passes before each post.
    divider = {"type": "divider"}
    slack_clock.advance(1)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[divider] * 51)) \
        == "invalid_blocks"
    slack_clock.advance(1)
    await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[divider] * 50)
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}
    with pytest.raises(SlackApiError) as info:
        slack_clock.advance(1)
        await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[long_section])
    assert info.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text" in info.value.response["response_metadata"]["messages"][0]
    ok_section = {"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3000}}
    slack_clock.advance(1)
    await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[ok_section])
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    slack_clock.advance(1)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[header])) \
        == "invalid_blocks"
    mrkdwn_header = {"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}
    slack_clock.advance(1)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[mrkdwn_header])) \
        == "invalid_blocks"
    empty = {"type": "section", "text": {"type": "mrkdwn", "text": ""}}
    slack_clock.advance(1)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[empty])) \
        == "invalid_blocks"
    slack_clock.advance(1)
    assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="a" * 40_001)) == "msg_too_long"
    with pytest.warns(UserWarning, match="text"):
        slack_clock.advance(1)
        assert await api_error(client.chat_postMessage(channel="C0GENERAL", text="")) == "no_text"


async def test_stored_blocks_get_ids_like_slack(client: AsyncWebClient) -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Ack"}}
    posted = await client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[
        {"type": "actions", "elements": [button]}])
    block = posted["message"]["blocks"][0]
    assert block["block_id"] and block["elements"][0]["action_id"]


async def test_update_and_delete_only_own_messages(client: AsyncWebClient, driver: SlackDriver) -> None:
    human_ts = await driver.post("alice", "#general", "hello")
    assert await api_error(client.chat_update(channel="C0GENERAL", ts=human_ts, text="x")) \
        == "cant_update_message"
    assert await api_error(client.chat_delete(channel="C0GENERAL", ts=human_ts)) == "cant_delete_message"
    assert await api_error(client.chat_update(channel="C0GENERAL", ts="1.000001", text="x")) \
        == "message_not_found"
    mine = await client.chat_postMessage(channel="C0GENERAL", text="v1")
    updated = await client.chat_update(channel="C0GENERAL", ts=mine["ts"], text="v2")
    assert updated["text"] == "v2" and updated["message"]["edited"]["user"] == "U0BOT"
    await client.chat_delete(channel="C0GENERAL", ts=mine["ts"])
    history = await client.conversations_history(channel="C0GENERAL")
    assert [m["ts"] for m in history["messages"] if m.get("user") == "U0BOT"] == []


async def test_pins_and_reactions_errors(emulator: SlackEmulator) -> None:
    # reactions:write is not among Retro's manifest scopes: this token is granted it on top of them.
    grant = emulator.tenancy.grant(emulator.state, scopes=[*emulator.tenancy.seed_scopes, "reactions:write"])
    client = AsyncWebClient(token=grant.token, base_url=emulator.api_url)
    ts = (await client.chat_postMessage(channel="C0GENERAL", text="pin me"))["ts"]
    await client.pins_add(channel="C0GENERAL", timestamp=ts)
    assert await api_error(client.pins_add(channel="C0GENERAL", timestamp=ts)) == "already_pinned"
    items = (await client.pins_list(channel="C0GENERAL"))["items"]
    assert [i["message"]["ts"] for i in items] == [ts]
    await client.pins_remove(channel="C0GENERAL", timestamp=ts)
    assert await api_error(client.pins_remove(channel="C0GENERAL", timestamp=ts)) == "no_pin"
    await client.reactions_add(channel="C0GENERAL", timestamp=ts, name="eyes")
    assert await api_error(client.reactions_add(channel="C0GENERAL", timestamp=ts, name="eyes")) \
        == "already_reacted"
    assert await api_error(client.reactions_add(channel="C0GENERAL", timestamp=ts, name=":fire:")) \
        == "invalid_name"
    got = await client.reactions_get(channel="C0GENERAL", timestamp=ts)
    assert got["message"]["reactions"] == [{"name": "eyes", "users": ["U0BOT"], "count": 1}]


async def test_threads_history_and_pagination(client: AsyncWebClient, driver: SlackDriver,
                                              slack_clock: SlackClock) -> None:
    parent = (await client.chat_postMessage(channel="C0GENERAL", text="parent"))["ts"]
    reply_ts = await driver.post("bob", "#general", "reply", thread_ts=parent)
    nested = await driver.post("carol", "#general", "reply to reply", thread_ts=reply_ts)
    for i in range(5):
        slack_clock.advance(1)  # Slack's pace: about one message a second per channel
        await client.chat_postMessage(channel="C0GENERAL", text=f"m{i}")
    first = await client.conversations_history(channel="C0GENERAL", limit=3)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3", "m2"] and first["has_more"] is True
    rest = await client.conversations_history(channel="C0GENERAL", limit=10,
                                              cursor=first["response_metadata"]["next_cursor"])
    texts = [m["text"] for m in rest["messages"]]
    assert texts == ["m1", "m0", "parent"] and rest["has_more"] is False
    thread_parent = rest["messages"][-1]
    assert thread_parent["reply_count"] == 2 and thread_parent["reply_users"] == ["U0BOB", "U0CAROL"]
    replies = await client.conversations_replies(channel="C0GENERAL", ts=parent)
    assert [m["ts"] for m in replies["messages"]] == [parent, reply_ts, nested]
    assert replies["messages"][2]["thread_ts"] == parent
    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=reply_ts)
    assert link["permalink"].endswith(f"p{reply_ts.replace('.', '')}?thread_ts={parent}&cid=C0GENERAL")


async def test_query_and_body_parameters_are_merged(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    # slack_sdk sends conversations.create as query parameters and chat.postMessage as a JSON body.
    created = await client.conversations_create(name="inc-merge")
    ch = created["channel"]["id"]
    await client.chat_postMessage(channel=ch, text="json body", blocks=[{"type": "divider"}])
    call = emulator.calls_for("chat.postMessage")[0]
    assert call.params["blocks"] == [{"type": "divider"}] and call.ok
    url = f"{emulator.api_url}chat.postMessage?channel={ch}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http, http.post(url, data={"text": "form body"}, headers=headers) as r:
        body = await r.json()
    assert body["ok"] is True and body["message"]["text"] == "form body"
    async with aiohttp.ClientSession() as http, http.post(
            f"{emulator.api_url}auth.test", data={"token": TOKEN}) as r:
        assert (await r.json())["user_id"] == "U0BOT"


async def test_authentication(emulator: SlackEmulator) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=emulator.api_url)
    assert await api_error(bad.auth_test()) == "invalid_auth"
    anonymous = AsyncWebClient(base_url=emulator.api_url)
    assert await api_error(anonymous.auth_test()) == "not_authed"
    assert [c.error for c in emulator.calls] == ["invalid_auth", "not_authed"]


async def test_dm_by_user_id_and_conversations_open(client: AsyncWebClient, driver: SlackDriver) -> None:
    opened = await client.conversations_open(users="U0DAVE")
    dm = opened["channel"]["id"]
    assert dm.startswith("D")
    await client.chat_postMessage(channel="U0DAVE", text="your action item is due")
    assert [m["text"] for m in driver.dms("dave")] == ["your action item is due"]
    assert driver.dm_channel("dave") == dm


async def test_ephemeral_requires_membership(client: AsyncWebClient, emulator: SlackEmulator,
                                             driver: SlackDriver) -> None:
    outsider = emulator.add_user("frank")
    assert await api_error(client.chat_postEphemeral(channel="C0GENERAL", user=outsider, text="x")) \
        == "user_not_in_channel"
    await client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
    assert [e["text"] for e in driver.ephemerals("alice")] == ["only you"]
    assert driver.ephemerals("bob") == []


async def test_bookmarks(emulator: SlackEmulator) -> None:
    grant = emulator.tenancy.grant(emulator.state, scopes=["bookmarks:read", "bookmarks:write"])
    client = AsyncWebClient(token=grant.token, base_url=emulator.api_url)
    added = await client.bookmarks_add(channel_id="C0GENERAL", title="Runbook", type="link",
                                       link="https://runbooks.example.com/drift")
    assert added["bookmark"]["title"] == "Runbook"
    assert await api_error(client.bookmarks_add(channel_id="C0GENERAL", title="x", type="link", link="nope")) \
        == "invalid_link"
    listed = await client.bookmarks_list(channel_id="C0GENERAL")
    assert [b["link"] for b in listed["bookmarks"]] == ["https://runbooks.example.com/drift"]
