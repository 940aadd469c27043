"""Every expiry in the emulator reads the clock it was given: trigger ids, response_urls and OAuth codes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.oauth import CODE_TTL_SECONDS
from sandbox.responses import HOOK_MAX_USES, HOOK_TTL_SECONDS
from tests.sandbox.conftest import SlackClock
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_interactions import MODAL
from tests.sandbox.test_oauth import CLIENT_ID, CLIENT_SECRET, REDIRECT, anonymous, code_for
from tests.sandbox.test_web_api import api_error


async def respond(url: str, text: str) -> tuple[int, dict[str, Any]]:
    """POST a reply to a response_url: (status, body)."""
    async with aiohttp.ClientSession() as http, http.post(url, json={"text": text}) as resp:
        return resp.status, await resp.json()


async def test_a_trigger_id_lives_exactly_its_ttl_on_the_injected_clock(
        emulator: SlackEmulator, client: AsyncWebClient, slack_clock: SlackClock) -> None:
    """Triggers age only when the emulator's clock moves: valid through the ttl, expired just after."""
    assert emulator.trigger_ttl == 3.0  # Slack's own limit
    on_time, late = emulator.issue_trigger("alice"), emulator.issue_trigger("bob")
    slack_clock.advance(emulator.trigger_ttl)
    assert (await client.views_open(trigger_id=on_time, view=MODAL))["ok"]
    slack_clock.advance(0.001)
    assert await api_error(client.views_open(trigger_id=late, view=MODAL)) == "expired_trigger_id"
    fresh = emulator.issue_trigger("bob")
    assert (await client.views_open(trigger_id=fresh, view=MODAL))["ok"]


async def test_a_trigger_id_issued_by_a_click_expires_on_the_injected_clock(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver, client: AsyncWebClient,
        slack_clock: SlackClock) -> None:
    """The trigger_id sent with a slash command follows the same clock."""
    result = await driver.command("carol", "#general", "start")
    slack_clock.advance(emulator.trigger_ttl + 1)
    assert await api_error(client.views_open(trigger_id=result.trigger_id, view=MODAL)) == "expired_trigger_id"
    assert driver.views_open_for("carol") == []


async def test_a_response_url_expires_after_thirty_minutes_on_the_injected_clock(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver, slack_clock: SlackClock) -> None:
    """A response_url answers until 30 minutes have passed on the clock, then says expired_url."""
    assert HOOK_TTL_SECONDS == 30 * 60 and HOOK_MAX_USES == 5
    result = await driver.command("alice", "#general", "status")
    assert (await respond(result.response_url, "at once"))[0] == 200
    slack_clock.advance(HOOK_TTL_SECONDS)
    assert (await respond(result.response_url, "just in time"))[0] == 200
    slack_clock.advance(1)
    status, body = await respond(result.response_url, "too late")
    assert status == 404 and body["error"] == "expired_url"
    texts = [e["text"] for e in driver.ephemerals("alice", "#general")]
    assert texts == ["at once", "just in time"]


@pytest.mark.parametrize(("age", "works"), [(CODE_TTL_SECONDS, True), (CODE_TTL_SECONDS + 1, False)])
async def test_an_oauth_code_expires_after_ten_minutes_on_the_injected_clock(
        emulator: SlackEmulator, slack_clock: SlackClock, age: int, works: bool) -> None:
    """oauth.v2.access takes a code up to its ttl on the clock, and calls it invalid_code after."""
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    code = await code_for(emulator, "T0ACME")
    slack_clock.advance(age)
    exchange = anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                   redirect_uri=REDIRECT)
    if works:
        assert (await exchange)["team"]["id"] == "T0ACME"
    else:
        assert await api_error(exchange) == "invalid_code"
        assert not emulator.workspace_for("T0ACME").installed


def test_the_emulator_reads_real_monotonic_time_unless_told_otherwise() -> None:
    """Without an injected clock, expiries follow time.monotonic, as before."""
    import time

    emulator = SlackEmulator(signing_secret="s")
    assert emulator.clock is time.monotonic
    assert emulator.workspace.clock is time.monotonic and emulator.oauth.clock is time.monotonic
    ticking = SlackEmulator(signing_secret="s", clock=SlackClock(5.0))
    ws = ticking.add_workspace("T0TWO", name="Two", domain="two")
    assert ticking.workspace.clock() == ws.clock() == ticking.oauth.clock() == 5.0
