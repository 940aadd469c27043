"""The REPL as a place to try an app: echoes, stable numbers, people, channels by prefix, late results, uploads of
local files, and the App Home only on request."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.repl import HELP, Repl
from sandbox.repl_lookup import COMMANDS
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.typist import Typist


def paged(text: str) -> list[dict[str, object]]:
    """A page with an Ack button."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": "b", "elements": [
                {"type": "button", "action_id": "ack", "value": "1", "text": {"type": "plain_text", "text": "Ack"}}]}]


@pytest.fixture
async def typist(emulator: SlackEmulator, driver: SlackDriver) -> AsyncIterator[Typist]:
    """alice at the REPL, in #general."""
    session = Typist(emulator, driver)
    try:
        yield session
    finally:
        await session.close()


async def test_who_lists_everyone_with_id_and_workspace_role(typist: Typist) -> None:
    answer = await typist.type("who")
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in answer.splitlines()[2:]}
    assert answer.startswith("you are alice in general")
    assert rows["alice"].startswith("* alice") and "U0ALICE" in rows["alice"] and "primary owner" in rows["alice"]
    assert "U0BOB" in rows["bob"] and " admin " in rows["bob"]
    assert all(" member " in rows[name] for name in ("carol", "dave", "erin"))
    assert "U0BOT" in rows["retro"] and "app (bot user)" in rows["retro"]


async def test_your_own_lines_are_shown_as_the_channel_shows_them(typist: Typist) -> None:
    answer = await typist.type("deploy <v2> & ping @bob")
    assert answer.startswith("(1) #general · alice")
    assert "  deploy <v2> & ping @bob" in answer  # escaped and marked up on the way in, shown as people read it


async def test_messages_and_buttons_keep_their_numbers(typist: Typist, client: AsyncWebClient,
                                                       driver: SlackDriver) -> None:
    await typist.type("first")
    await typist.type("as bob: second")
    posted = await client.chat_postMessage(channel="C0GENERAL", text="Page", blocks=paged("Page"))
    await typist.wait_for("[1 Ack]")
    edited = await typist.type("edit 1 first, edited")
    assert edited.startswith("(1) #general · alice") and "edited" in edited
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="Page again", blocks=paged("Page again"))
    await typist.wait_for("Page again")
    later = await typist.type("third")
    assert later.startswith("(4) #general · alice")
    history = await typist.type("history 4")
    assert [line[:4] for line in history.splitlines() if line.startswith("(")] == ["(1) ", "(2) ", "(3) ", "(4) "]
    assert "[1 Ack]" in history and "[2 " not in history
    await typist.type("thread 2 replying to bob")
    (reply,) = [m for m in driver.messages("#general") if m["text"] == "replying to bob"]
    second = next(m for m in driver.messages("#general") if m["text"] == "second")
    assert reply["thread_ts"] == second["ts"]
    assert "in thread of (2)" in typist.text


async def test_a_channel_prefix_takes_you_to_the_one_channel_it_names(emulator: SlackEmulator,
                                                                       typist: Typist) -> None:
    emulator.create_channel("inc-20261206-churn-drift", members=["alice"])
    emulator.create_channel("inc-20261206-fraud-skew", members=["alice"])
    emulator.create_channel("ops", creator="bob")
    assert (await typist.type("#op")).startswith("now in #ops")
    assert "several channels start with #inc: #inc-20261206-churn-drift, #inc-20261206-fraud-skew" in \
        await typist.type("#inc")
    assert (await typist.type("#inc-20261206-f")).startswith("now in #inc-20261206-fraud-skew")
    assert "error: channel_not_found" in await typist.type("#nowhere")
    await typist.type("here now")
    assert typist.text.rstrip().endswith("alice@inc-20261206-fraud-skew>")


async def test_tab_completes_channels_people_and_commands(emulator: SlackEmulator, driver: SlackDriver) -> None:
    emulator.create_channel("inc-20261206-churn-drift", members=["alice"])
    emulator.create_channel("secret", creator="bob", is_private=True)
    repl = Repl(emulator, driver, out=io.StringIO(), user="alice", channel="#general")
    assert repl.complete("#in", "#in") == ["#inc-20261206-churn-drift"]
    assert repl.complete("#", "#") == ["#general", "#inc-20261206-churn-drift"]  # not bob's private channel
    assert repl.complete("ping @c", "@c") == ["@carol"]
    assert repl.complete("as d", "d") == ["dave"]
    assert repl.complete("up", "up") == ["upload"]


async def test_help_lists_every_command(typist: Typist) -> None:
    answer = await typist.type("help")
    assert answer.strip() == HELP.strip()
    assert [word for word in COMMANDS if word not in HELP] == []
    assert "upload <path> [comment]" in HELP and "#<channel>" in HELP


async def test_what_arrives_while_the_prompt_waits_is_printed_at_once(typist: Typist,
                                                                      client: AsyncWebClient) -> None:
    await typist.prompt()
    await client.chat_postMessage(channel="C0GENERAL", text="Data check stored as E2")
    await typist.wait_for("Data check stored as E2")
    await typist.prompt()
    # Printed under the waiting prompt, nothing typed: then the prompt is back under it.
    assert "alice@general> \n(1) #general · retro [APP]" in typist.text
    assert typist.text.rstrip().endswith("alice@general>")


async def test_a_channel_the_app_opens_for_you_becomes_the_current_one(typist: Typist, client: AsyncWebClient,
                                                                        driver: SlackDriver) -> None:
    await typist.prompt()
    created = await client.conversations_create(name="inc-20261206-label-lag")
    await typist.type("before the invite")  # the REPL looks at the channels now, before alice is in this one
    await client.conversations_invite(channel=created["channel"]["id"], users="U0ALICE")
    await typist.wait_for("now in #inc-20261206-label-lag (the app opened it and added you")
    await typist.type("on it")
    assert [m["text"] for m in driver.messages("#inc-20261206-label-lag")] == ["on it"]
    other = await client.conversations_create(name="inc-20261206-not-yours")
    await client.conversations_invite(channel=other["channel"]["id"], users="U0BOB")
    await typist.type("still here")  # a channel opened for someone else does not move you
    assert typist.text.rstrip().endswith("alice@inc-20261206-label-lag>")


async def test_upload_shares_a_local_file_as_slack_does(emulator: SlackEmulator, app: FakeApp, typist: Typist,
                                                        tmp_path: Path) -> None:
    emulator.create_channel("inc-20261206-churn-drift", members=["alice", "retro"])
    data = b"id,score\n1,0.5\n2,0.7\n"
    (tmp_path / "scores today.csv").write_bytes(data)
    await typist.type("#inc-20261206-churn-drift")
    answer = await typist.type(f'upload "{tmp_path / "scores today.csv"}" today\'s scores')
    assert "today's scores" in answer and "[file: scores today.csv (21 bytes, F" in answer
    await emulator.drain()
    (share,) = [e for e in app.events("message") if e.get("subtype") == "file_share"]
    assert share["channel"] == emulator.channel("#inc-20261206-churn-drift").id and share["user"] == "U0ALICE"
    assert share["files"][0]["name"] == "scores today.csv" and share["files"][0]["size"] == len(data)
    assert emulator.workspace.files[share["files"][0]["id"]].content == data
    assert f"error: no file at {tmp_path / 'missing.csv'}" in await typist.type(f"upload {tmp_path / 'missing.csv'}")
    await typist.type("snippet notes.txt rollback at 10:05")
    assert emulator.workspace.files[max(emulator.workspace.files)].content == b"rollback at 10:05"


async def test_the_app_home_opens_only_when_asked(emulator: SlackEmulator, app: FakeApp, typist: Typist,
                                                  client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your action items"}}]}
    await typist.prompt()
    await client.views_publish(user_id="U0ALICE", view=home)
    await typist.type("a message after the app published a Home")
    assert "Your action items" not in typist.text
    answer = await typist.type("home")
    assert [e["user"] for e in app.events("app_home_opened")] == ["U0ALICE"]
    assert answer.startswith("┌ App Home") and "Your action items" in answer
