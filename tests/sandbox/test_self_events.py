"""The app's own doings come back to it as events, as Slack sends them (Bolt, not Slack, filters them)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackEmulator, actions
from tests.sandbox.fakeapp import FakeApp


async def test_own_post_upload_pin_and_edit_are_delivered(emulator: SlackEmulator, app: FakeApp,
                                                          client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="incident card")
    await client.pins_add(channel="C0GENERAL", timestamp=posted["ts"])
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="incident card v2")
    await client.files_upload_v2(channel="C0GENERAL", content=b"a,b\n", filename="draft.md")
    await emulator.drain()
    messages = app.events("message")
    plain = next(e for e in messages if "subtype" not in e)
    assert plain["user"] == "U0BOT" and plain["bot_id"] == "B0BOT" and plain["ts"] == posted["ts"]
    changed = next(e for e in messages if e.get("subtype") == "message_changed")
    assert changed["message"]["user"] == "U0BOT" and changed["message"]["bot_id"] == "B0BOT"
    upload = next(e for e in messages if e.get("subtype") == "file_share")
    assert upload["user"] == "U0BOT" and upload["bot_id"] == "B0BOT" and upload["files"]
    assert app.events("pin_added")[0]["user"] == "U0BOT"


async def test_deleting_the_apps_post_names_the_bot_in_previous_message(emulator: SlackEmulator, app: FakeApp,
                                                                       client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="incident card")
    ws = emulator.workspace
    actions.delete_message(ws, ws.message("C0GENERAL", posted["ts"]))  # as a workspace admin may
    await emulator.drain()
    (deleted,) = [e for e in app.events("message") if e.get("subtype") == "message_deleted"]
    assert deleted["deleted_ts"] == posted["ts"] and "user" not in deleted and "bot_id" not in deleted
    assert deleted["previous_message"]["user"] == "U0BOT" and deleted["previous_message"]["bot_id"] == "B0BOT"
