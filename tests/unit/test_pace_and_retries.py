"""Keeping to Slack's pace on a clock the test moves: channel lanes, Retry-After holds, and the 429 retry handler."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config import Settings
from bot.slack import client as slack_client
from bot.slack import pace as pace_module
from bot.slack.client import CountingRateLimitHandler, make_client
from bot.slack.pace import POST_BURST, SlackPace

API = "https://slack.test/api/"


class Clock:
    """Monotonic seconds that move only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 2))
        self.now += seconds
        await asyncio.sleep(0)


def pace_on(clock: Clock) -> SlackPace:
    return SlackPace(API, clock=clock, sleep=clock.sleep)


async def post(pace: SlackPace, clock: Clock, channel: str, sent: list[str], label: str, status: int = 200,
               retry_after: str | None = None) -> None:
    async with pace.post_turn("Bearer xoxb-1", channel) as lane:
        sent.append(label)
        lane.answered(clock(), status, retry_after)


async def test_posts_into_one_channel_burst_then_go_one_a_second_in_the_order_asked() -> None:
    clock = Clock()
    pace, sent = pace_on(clock), list[str]()
    await asyncio.gather(*(post(pace, clock, "C1", sent, f"m{n}") for n in range(6)))
    assert sent == [f"m{n}" for n in range(6)]
    assert len(clock.slept) == 6 - POST_BURST and all(1.0 <= s <= 1.05 for s in clock.slept)


async def test_another_channel_has_its_own_lane() -> None:
    clock = Clock()
    pace, sent = pace_on(clock), list[str]()
    for n in range(POST_BURST):
        await post(pace, clock, "C1", sent, f"a{n}")
    await post(pace, clock, "C2", sent, "b0")
    assert clock.slept == [] and sent[-1] == "b0"


async def test_idle_lanes_are_forgotten_and_busy_ones_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pace_module, "MAX_LANES", 2)
    clock = Clock()
    pace, sent = pace_on(clock), list[str]()
    for n in range(POST_BURST):
        await post(pace, clock, "C1", sent, f"a{n}")  # C1 is out of burst
    await post(pace, clock, "C2", sent, "b0")
    clock.now += POST_BURST  # C2 has refilled; C1 posts again now
    await post(pace, clock, "C1", sent, "a3")
    pace.lane("Bearer xoxb-1", "C3")
    assert set(pace.lanes) == {("Bearer xoxb-1", "C1"), ("Bearer xoxb-1", "C3")}  # C2 was idle and full


async def test_a_429_holds_the_channel_until_its_retry_after() -> None:
    clock = Clock()
    pace, sent = pace_on(clock), list[str]()
    await post(pace, clock, "C1", sent, "refused", status=429, retry_after="7")
    await post(pace, clock, "C1", sent, "later")
    assert clock.slept == [7.0] and sent == ["refused", "later"]


async def test_a_429_on_another_method_holds_its_next_calls() -> None:
    clock = Clock()
    pace = pace_on(clock)
    pace.after("Bearer xoxb-1", "conversations.create", 429, "3")
    await pace.before("Bearer xoxb-1", "conversations.create")
    await pace.before("Bearer xoxb-1", "pins.add")
    assert clock.slept == [3.0]
    await pace.before("Bearer xoxb-1", "conversations.create")  # the hold is over
    assert clock.slept == [3.0]


def limited(retry_after: str) -> HttpResponse:
    return HttpResponse(status_code=429, headers={"Retry-After": retry_after}, body={"ok": False,
                                                                                     "error": "ratelimited"})


REQUEST = HttpRequest(method="POST", url=f"{API}chat.postMessage", headers={})


async def test_the_client_keeps_waiting_out_429s_past_five_retries() -> None:
    client = make_client(Settings(slack_bot_token="xoxb-1", slack_api_url=API))
    (handler,) = [h for h in client.retry_handlers if isinstance(h, CountingRateLimitHandler)]
    state = RetryState(current_attempt=5)
    assert await handler.can_retry_async(state=state, request=REQUEST, response=limited("1"))


async def test_429_retries_stop_past_the_patience_or_the_callers_deadline() -> None:
    handler = CountingRateLimitHandler(None, patience=10.0)
    waited = RetryState(current_attempt=3, custom_values={slack_client.WAITED: 8.0})
    assert not await handler.can_retry_async(state=waited, request=REQUEST, response=limited("3"))
    assert await handler.can_retry_async(state=waited, request=REQUEST, response=limited("2"))
    with slack_client.deadline(5.0):
        assert not await handler.can_retry_async(state=RetryState(), request=REQUEST, response=limited("30"))
        assert await handler.can_retry_async(state=RetryState(), request=REQUEST, response=limited("1"))
    ok = HttpResponse(status_code=200, headers={}, body={"ok": True})
    assert not await handler.can_retry_async(state=RetryState(), request=REQUEST, response=ok)
