"""Several workspaces in one emulator: tokens, data and events never cross between them."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator, SlackError
from tests.sandbox.conftest import TOKEN
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_web_api import api_error


async def test_auth_test_answers_per_token(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme Corp", domain="acme")
    token = emulator.bot_token_for("T0ACME")
    assert token.startswith("xoxb-T0ACME-") and token != TOKEN
    mine = await client.auth_test()
    assert (mine["team_id"], mine["team"], mine["url"], mine["user_id"], mine["bot_id"]) == \
        ("T0SANDBOX", "Sandbox", "https://sandbox.slack.com/", "U0BOT", "B0BOT")
    theirs = await AsyncWebClient(token=token, base_url=emulator.api_url).auth_test()
    assert (theirs["team_id"], theirs["team"], theirs["url"], theirs["user_id"], theirs["bot_id"]) == \
        ("T0ACME", "Acme Corp", "https://acme.slack.com/", acme.bot_user_id, acme.bot_id)
    assert acme.bot_user_id != "U0BOT" and acme.bot_id != "B0BOT"
    assert emulator.calls[-1].team_id == "T0ACME"


async def test_a_token_never_reaches_another_workspace(emulator: SlackEmulator, client: AsyncWebClient,
                                                       driver: SlackDriver) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme", domain="acme")
    other = AsyncWebClient(token=emulator.bot_token_for("T0ACME"), base_url=emulator.api_url)
    general = acme.channel("#general").id
    assert general != "C0GENERAL"
    posted = await other.chat_postMessage(channel=general, text="hello acme")
    created = await other.conversations_create(name="inc-acme")
    ours = await client.conversations_create(name="inc-acme")
    assert created["channel"]["id"] != ours["channel"]["id"]
    for call in (client.conversations_info(channel=general), client.conversations_history(channel=general),
                 client.chat_postMessage(channel=general, text="x"),
                 client.chat_update(channel=general, ts=posted["ts"], text="hijack"),
                 client.chat_delete(channel=general, ts=posted["ts"]),
                 client.conversations_join(channel=created["channel"]["id"]),
                 other.chat_postMessage(channel="C0GENERAL", text="x")):
        assert await api_error(call) == "channel_not_found"
    assert await api_error(client.users_info(user=acme.user("alice").id)) == "user_not_found"
    listed = await other.conversations_list()
    assert sorted(c["name"] for c in listed["channels"]) == ["general", "inc-acme"]
    members = await other.users_list()
    assert {m["team_id"] for m in members["members"]} == {"T0ACME"}
    acme_driver = driver.for_team("T0ACME")
    assert [m["text"] for m in acme_driver.messages("#general")] == ["hello acme"]
    assert driver.messages("#general") == []
    assert acme_driver.user("alice").id != driver.user("alice").id


async def test_events_and_commands_carry_their_workspace(emulator: SlackEmulator, app: FakeApp,
                                                         driver: SlackDriver) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme", domain="acme")
    acme_driver = SlackDriver(emulator, team_id="T0ACME")
    await acme_driver.post("bob", "#general", "in acme")
    await driver.post("bob", "#general", "at home")
    result = await acme_driver.command("carol", "#general", "status")
    await emulator.drain()
    envelopes = {r.json["event"]["text"]: r.json for r in app.requests
                 if r.headers["Content-Type"].startswith("application/json") and r.json["event"]["type"] == "message"}
    there, here = envelopes["in acme"], envelopes["at home"]
    assert there["team_id"] == "T0ACME" and here["team_id"] == "T0SANDBOX"
    assert there["api_app_id"] == here["api_app_id"] == "A0SANDBOX"
    assert there["authorizations"] == [{"enterprise_id": None, "team_id": "T0ACME", "user_id": acme.bot_user_id,
                                        "is_bot": True, "is_enterprise_install": False}]
    assert there["event"]["user"] == acme.user("bob").id and there["event"]["team"] == "T0ACME"
    assert result.ok and app.forms()[-1]["team_id"] == "T0ACME" and app.forms()[-1]["team_domain"] == "acme"
    assert all(r.signature_ok for r in app.requests)
    assert [e["text"] for e in emulator.events("message", team_id="T0ACME")] == ["in acme"]


async def test_a_workspace_without_the_app_sends_nothing(emulator: SlackEmulator, app: FakeApp,
                                                         driver: SlackDriver) -> None:
    emulator.add_workspace("T0BARE", name="Bare", domain="bare", installed=False)
    with pytest.raises(KeyError):
        emulator.bot_token_for("T0BARE")
    bare = driver.for_team("T0BARE")
    await bare.post("alice", "#general", "anyone?")
    await emulator.drain()
    assert app.requests == []
    assert all(d.dropped for d in emulator.deliveries)
    with pytest.raises(SlackError, match="app_not_installed"):
        await bare.command("alice", "#general", "hi")
    with pytest.raises(ValueError, match="already exists"):
        emulator.add_workspace("T0BARE", name="Again", domain="again")
