"""Enterprise Grid: a workspace of an org names its enterprise in events, commands, interactions and its install."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_interactions import BUTTONS
from tests.sandbox.test_oauth import BASIC_AUTH_DEPRECATED, CLIENT_ID, CLIENT_SECRET, REDIRECT, code_for

GRID = "T0INITECH"
ENTERPRISE_ID, ENTERPRISE_NAME = "E0GLOBEX", "Globex Holdings"


@pytest.fixture
def grid(emulator: SlackEmulator) -> str:
    emulator.tenancy.add(GRID, name="Initech", domain="initech", enterprise=(ENTERPRISE_ID, ENTERPRISE_NAME))
    return GRID


async def test_grid_events_commands_and_clicks_carry_the_enterprise(emulator: SlackEmulator, app: FakeApp,
                                                                     grid: str) -> None:
    drv = SlackDriver(emulator, team_id=grid)
    general = drv.channel("#general").id
    await drv.post("alice", "#general", "hello grid")
    await drv.command("alice", "#general", "help")
    client = AsyncWebClient(token=emulator.bot_token_for(grid), base_url=emulator.api_url)
    ts = (await client.chat_postMessage(channel=general, text="Incident", blocks=BUTTONS))["ts"]
    await drv.click("alice", channel="#general", message_ts=ts, action_id="ack")
    await emulator.drain()
    envelope = next(r.json for r in app.requests if r.headers["Content-Type"].startswith("application/json"))
    assert (envelope["team_id"], envelope["enterprise_id"], envelope["context_enterprise_id"]) == \
        (grid, ENTERPRISE_ID, ENTERPRISE_ID)
    assert envelope["authorizations"][0]["enterprise_id"] == ENTERPRISE_ID
    assert envelope["authorizations"][0]["is_enterprise_install"] is False
    form = next(f for f in app.forms() if "command" in f)
    assert (form["enterprise_id"], form["enterprise_name"], form["is_enterprise_install"]) == \
        (ENTERPRISE_ID, ENTERPRISE_NAME, "false")
    click = app.interactions("block_actions")[0]
    assert click["enterprise"] == {"id": ENTERPRISE_ID, "name": ENTERPRISE_NAME}
    assert click["team"] == {"id": grid, "domain": "initech", "enterprise_id": ENTERPRISE_ID}


async def test_outside_grid_there_is_no_enterprise(emulator: SlackEmulator, app: FakeApp, driver: SlackDriver,
                                                   client: AsyncWebClient) -> None:
    await driver.post("alice", "#general", "hello")
    await driver.command("alice", "#general", "help")
    ts = (await client.chat_postMessage(channel="C0GENERAL", text="Incident", blocks=BUTTONS))["ts"]
    await driver.click("alice", channel="#general", message_ts=ts, action_id="ack")
    await emulator.drain()
    envelope = next(r.json for r in app.requests if r.headers["Content-Type"].startswith("application/json"))
    assert envelope["enterprise_id"] is None and envelope["authorizations"][0]["enterprise_id"] is None
    assert "enterprise_id" not in next(f for f in app.forms() if "command" in f)
    click = app.interactions("block_actions")[0]
    assert click["enterprise"] is None and "enterprise_id" not in click["team"]


@pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)
async def test_installing_into_a_grid_workspace_names_its_enterprise(emulator: SlackEmulator) -> None:
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.tenancy.add(GRID, name="Initech", domain="initech", installed=False,
                         enterprise=(ENTERPRISE_ID, ENTERPRISE_NAME))
    code = await code_for(emulator, GRID)
    resp = await AsyncWebClient(base_url=emulator.api_url).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT)
    assert resp["team"] == {"id": GRID, "name": "Initech"}
    assert resp["enterprise"] == {"id": ENTERPRISE_ID, "name": ENTERPRISE_NAME}
    assert resp["is_enterprise_install"] is False
