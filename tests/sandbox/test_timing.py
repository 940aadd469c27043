"""Slack's clocks: method latency, trigger ids aged from the send, view_submission ack deadline, rate tiers."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import SlackClock
from tests.sandbox.fakeapp import FakeApp, Received
from tests.sandbox.test_interactions import MODAL
from tests.sandbox.test_web_api import api_error


async def test_latency_knob_delays_only_the_named_methods(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    """With the knob on, conversations.members takes its 300-800 ms; other methods answer at once."""
    general = emulator.channel("#general").id
    emulator.slow(["conversations.members", "users.conversations"], 0.3, 0.8)
    started = time.monotonic()
    assert (await client.conversations_members(channel=general))["ok"]
    assert 0.3 <= time.monotonic() - started < 1.5
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started < 0.25
    emulator.slow(["conversations.members"], 0)
    started = time.monotonic()
    await client.conversations_members(channel=general)
    assert time.monotonic() - started < 0.25


async def test_a_trigger_id_ages_from_when_slack_sent_the_request(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver, client: AsyncWebClient,
        slack_clock: SlackClock) -> None:
    """Time the request spent reaching the app counts: 2 s in transit leave the app only 1 s."""

    async def slow_network(_: Received) -> web.Response:
        slack_clock.advance(2.0)  # the request took 2 s to arrive
        return web.Response(status=200)

    app.handler = slow_network
    result = await driver.command("alice", "#general", "start")
    slack_clock.advance(1.5)  # 1.5 s after the app received it, 3.5 s after Slack sent it
    assert await api_error(client.views_open(trigger_id=result.trigger_id, view=MODAL)) == "expired_trigger_id"


async def test_a_late_view_submission_ack_is_an_error_the_sandbox_records(
        emulator: SlackEmulator, app: FakeApp, client: AsyncWebClient) -> None:
    """A view_submission not acknowledged in time leaves the modal open and is recorded as a late ack."""
    driver = SlackDriver(emulator, ack_timeout=0.2)
    result = await driver.command("alice", "#general", "start")
    view_id = (await client.views_open(trigger_id=result.trigger_id, view=MODAL))["view"]["id"]

    async def slow_ack(_: Received) -> web.Response:
        await asyncio.sleep(0.5)
        return web.Response(status=200)

    app.handler = slow_ack
    status, _ = await driver.submit_view("alice", view_id, {"title": "Drift", "commander": "bob"})
    assert status is None
    assert [(a.kind, a.view_id) for a in emulator.late_acks] == [("view_submission", view_id)]
    assert [v["id"] for v in driver.views_open_for("alice")] == [view_id]
    app.handler = None
    status, _ = await driver.submit_view("alice", view_id, {"title": "Drift", "commander": "bob"})
    assert status == 200 and driver.views_open_for("alice") == [] and len(emulator.late_acks) == 1


async def test_rate_tiers_answer_429_with_retry_after_on_the_clock(
        emulator: SlackEmulator, client: AsyncWebClient, slack_clock: SlackClock) -> None:
    """conversations.create is Tier 2 (20 a minute): the 21st call in a minute gets 429 and a Retry-After."""
    for i in range(20):
        assert (await client.conversations_create(name=f"tier-{i}"))["ok"]
    with pytest.raises(SlackApiError) as err:
        await client.conversations_create(name="tier-late")
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert int(err.value.response.headers["Retry-After"]) == 3
    slack_clock.advance(3)
    assert (await client.conversations_create(name="tier-late"))["ok"]


async def test_post_message_is_one_per_second_per_channel_after_a_short_burst(
        emulator: SlackEmulator, client: AsyncWebClient, slack_clock: SlackClock) -> None:
    """A burst of 3 posts passes; the 4th within the second is refused; another channel is not affected."""
    general = emulator.channel("#general").id
    other = emulator.create_channel("other", members=["alice"])
    await client.conversations_join(channel=other)
    for i in range(3):
        assert (await client.chat_postMessage(channel=general, text=f"m{i}"))["ok"]
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel=general, text="too fast")
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"
    assert (await client.chat_postMessage(channel=other, text="elsewhere"))["ok"]
    slack_clock.advance(1)
    assert (await client.chat_postMessage(channel=general, text="a second later"))["ok"]
    assert emulator.call_count("chat.postMessage", include_ratelimited=True) == 6


async def test_rate_tiers_are_on_without_being_asked_for(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    """A fresh emulator throttles at once: nothing turns the tiers on and nothing turns them off."""
    general = emulator.channel("#general").id
    answers = []
    for i in range(4):
        try:
            answers.append((await client.chat_postMessage(channel=general, text=f"m{i}")).status_code)
        except SlackApiError as err:
            answers.append(err.response.status_code)
    assert answers == [200, 200, 200, 429]
    assert not hasattr(emulator, "enforce_rate_tiers") and not hasattr(emulator.api.tiers, "enabled")


async def test_response_url_limits_reach_slack_sdk_as_4xx_without_raising(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver) -> None:
    """AsyncWebhookClient.send returns used_url / invalid_blocks as 4xx answers; it does not raise."""
    result = await driver.command("alice", "#general", "x")
    hook = AsyncWebhookClient(result.response_url)
    bad = await hook.send(text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": ""}}])
    assert bad.status_code == 400 and "invalid_blocks" in bad.body
    answers = [await hook.send(text=f"r{i}") for i in range(5)]  # a refused answer still used the url once
    assert [a.status_code for a in answers] == [200] * 4 + [404] and "used_url" in answers[-1].body


async def test_event_retries_follow_slacks_schedule_on_the_clock(
        emulator: SlackEmulator, app: FakeApp, driver: SlackDriver, slack_clock: SlackClock) -> None:
    """Retries come at once, a minute later and five minutes after that, without holding up other events."""
    app.statuses = [500, 500]
    await driver.post("bob", "#general", "first")
    await emulator.drain()
    assert emulator.deliveries[0].statuses == [500, 500]
    await driver.post("bob", "#general", "second")  # not held up by the first one's pending retry
    await emulator.drain()
    assert emulator.deliveries[1].statuses == [200]
    app.statuses = [500]  # the app still fails when the 1-minute retry comes
    slack_clock.advance(59.9)
    await emulator.drain()
    assert emulator.deliveries[0].statuses == [500, 500]
    slack_clock.advance(0.1)
    await emulator.drain()
    assert emulator.deliveries[0].statuses == [500, 500, 500]
    slack_clock.advance(299.9)
    await emulator.drain()
    assert len(emulator.deliveries[0].statuses) == 3
    slack_clock.advance(0.1)
    await emulator.drain()
    assert emulator.deliveries[0].statuses == [500, 500, 500, 200] and emulator.deliveries[0].delivered
    retries = [(r.headers.get("X-Slack-Retry-Num"), r.headers.get("X-Slack-Retry-Reason")) for r in app.requests
               if json.loads(r.body)["event"].get("text") == "first"]
    assert retries == [(None, None), ("1", "http_error"), ("2", "http_error"), ("3", "http_error")]
