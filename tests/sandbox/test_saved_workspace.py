"""A saved sandbox workspace resumes where it stopped: people, channels, messages, files, pins, Homes; ids, message
timestamps and event ids carry on instead of starting again (Retro's database remembers the old ones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.saved import STATE_FILE, SavedStateError, load, save
from tests.sandbox.conftest import SECRET, TOKEN


async def test_a_saved_workspace_resumes_where_it_stopped(emulator: SlackEmulator, driver: SlackDriver,
                                                          client: AsyncWebClient, tmp_path: Path) -> None:
    channel = await client.conversations_create(name="inc-20261206-churn-drift")
    cid = channel["channel"]["id"]
    await client.conversations_invite(channel=cid, users="U0ALICE,U0BOB")
    posted = await client.chat_postMessage(channel=cid, text="card")
    await client.pins_add(channel=cid, timestamp=posted["ts"])
    said = await driver.post("bob", cid, "looking at the feature store")
    await driver.edit("bob", cid, said, "looking at the feature store now")
    file_id = await driver.share_file("alice", cid, "today.csv", b"id,score\n1,0.5\n")
    await client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})
    emulator.issue_trigger("alice")
    ids_before, ts_before, events_before = (emulator.workspace.ids_issued, emulator.workspace.last_micros,
                                            emulator.bus.events_sent)
    save(emulator, tmp_path / "slack")

    resumed = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    load(resumed, tmp_path / "slack")
    await resumed.start()
    try:
        ws = resumed.workspace
        assert ws.channel("#inc-20261206-churn-drift").members == ["U0BOT", "U0ALICE", "U0BOB"]
        texts = [m.text for m in ws.messages[cid].values() if m.subtype is None]
        assert texts == ["card", "looking at the feature store now"]
        assert ws.message(cid, said).edited is not None and list(ws.pins[cid]) == [posted["ts"]]
        assert ws.files[file_id].content == b"id,score\n1,0.5\n" and ws.files[file_id].shares == {cid: [
            m.ts for m in ws.messages[cid].values() if m.files]}
        assert ws.home_views["U0ALICE"] in ws.views
        assert ws.triggers == {} and ws.ephemerals == []  # what Slack forgets on a reload is not kept
        assert (ws.ids_issued, ws.last_micros, resumed.bus.events_sent) == (ids_before, ts_before, events_before)
        again = SlackDriver(resumed)
        new_ts = await again.post("alice", cid, "back after lunch")
        assert float(new_ts) > float(said) and ws.new_id("C") not in emulator.workspace.channels
        resumed_client = AsyncWebClient(token=TOKEN, base_url=resumed.api_url)
        info = await resumed_client.files_info(file=file_id)
        assert info["file"]["name"] == "today.csv"
    finally:
        await resumed.stop()


async def test_an_event_id_is_never_given_twice_across_a_resume(emulator: SlackEmulator, driver: SlackDriver,
                                                                tmp_path: Path) -> None:
    await driver.post("alice", "#general", "one")
    first = {d.event_id for d in emulator.deliveries}
    save(emulator, tmp_path / "slack")
    resumed = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    load(resumed, tmp_path / "slack")
    await SlackDriver(resumed).post("alice", "#general", "two")
    assert first and {d.event_id for d in resumed.deliveries}.isdisjoint(first)


@pytest.mark.parametrize("damage", ["not json", json.dumps({"format": 99}), json.dumps({"format": 1})])
async def test_a_damaged_save_is_refused_in_one_line(emulator: SlackEmulator, tmp_path: Path, damage: str) -> None:
    save(emulator, tmp_path / "slack")
    (tmp_path / "slack" / STATE_FILE).write_text(damage)
    with pytest.raises(SavedStateError) as refused:
        load(SlackEmulator(signing_secret=SECRET, bot_token=TOKEN), tmp_path / "slack")
    assert "\n" not in str(refused.value) and STATE_FILE in str(refused.value)
