"""Keeping to Slack's pace: chat.postMessage one channel at a time, and no call sent into a rate limit Slack named.

Slack takes about one message per second per channel, with short bursts
(https://docs.slack.dev/reference/methods/chat.postMessage, "Rate limits"), and answers a call over any method's
limit with HTTP 429 and a Retry-After in seconds (https://docs.slack.dev/apis/web-api/rate-limits). Every Web API
call of the process goes through one aiohttp session (bot.slack.client.counting_session; Bolt's per-request clients
share it), so this module paces there, as a client middleware:

- posts into one channel go out one at a time, in the order they were asked for, and after a short burst no more
  than one a second (counted from Slack's answers, which come after Slack counted the post);
- after a 429, later calls of the same method (same channel for chat.postMessage) wait out its Retry-After instead
  of being refused too. The retry itself is bot.slack.client's retry handler's.

Other processes posting into the same channel are not seen here: their 429s are still waited out by the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

POST_BURST = 3  # posts allowed back to back before the one-a-second pace (Slack gives no figure for its bursts)
POST_PER_SECOND = 1.0
MAX_PREWAIT = 10.0  # longest wait before sending: the rest is the retry handler's (the session's timeout runs)
MARGIN = 0.01  # seconds added to every computed wait, against rounding
MAX_LANES = 1000  # channels remembered before idle ones are forgotten


def retry_after_seconds(value: str | None) -> float:
    """Seconds of a Retry-After header (1 when missing or not a number)."""
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


@dataclass
class Lane:
    """One channel's posts: a token bucket refilled at POST_PER_SECOND, taken one post at a time."""

    tokens: float
    at: float
    until: float = 0.0  # no post before this (a 429's Retry-After)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wait(self, now: float) -> float:
        """Seconds until the next post may go out."""
        refilled = min(POST_BURST, self.tokens + (now - self.at) * POST_PER_SECOND)
        for_token = 0.0 if refilled >= 1 else (1 - refilled) / POST_PER_SECOND + MARGIN
        return max(for_token, self.until - now, 0.0)

    def answered(self, now: float, status: int, retry_after: str | None) -> None:
        """Count one post at the time Slack answered it, refused or not (the stricter reading: Slack may count a
        refused post too); after a 429, none before its Retry-After is over."""
        self.tokens = max(0.0, min(POST_BURST, self.tokens + (now - self.at) * POST_PER_SECOND) - 1)
        self.at = now
        if status == 429:
            self.until = max(self.until, now + retry_after_seconds(retry_after))


class SlackPace:
    """The process's pace for one Web API base URL: lanes per (token, channel), holds per (token, method)."""

    def __init__(self, api_url: str, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.api_url, self.clock, self.sleep = api_url, clock, sleep
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.holds: dict[tuple[str, str], float] = {}

    def lane(self, token: str, channel: str) -> Lane:
        """The lane of one channel (made full on first use)."""
        key = (token, channel)
        if key not in self.lanes:
            if len(self.lanes) >= MAX_LANES:
                self._forget_idle()
            self.lanes[key] = Lane(tokens=POST_BURST, at=self.clock())
        return self.lanes[key]

    def _forget_idle(self) -> None:
        # A lane nobody waits on whose bucket has refilled is the same as a new one.
        now = self.clock()
        for key, lane in list(self.lanes.items()):
            if not lane.lock.locked() and lane.wait(now) == 0 and now - lane.at >= POST_BURST / POST_PER_SECOND:
                del self.lanes[key]

    @contextlib.asynccontextmanager
    async def post_turn(self, token: str, channel: str) -> AsyncIterator[Lane]:
        """Wait for this channel's turn and pace; the caller reports Slack's answer with `lane.answered`."""
        lane = self.lane(token, channel)
        async with lane.lock:
            wait = lane.wait(self.clock())
            if wait > 0:
                await self.sleep(min(wait, MAX_PREWAIT))
            yield lane

    async def before(self, token: str, method: str) -> None:
        """Wait out a Retry-After another call of this method was given (at most MAX_PREWAIT)."""
        until = self.holds.get((token, method))
        if until is not None:
            wait = until - self.clock()
            if wait > 0:
                await self.sleep(min(wait, MAX_PREWAIT))
            else:
                self.holds.pop((token, method), None)

    def after(self, token: str, method: str, status: int, retry_after: str | None) -> None:
        """Remember a 429's Retry-After for the method's next calls."""
        if status == 429:
            until = self.clock() + retry_after_seconds(retry_after)
            self.holds[(token, method)] = max(until, self.holds.get((token, method), 0.0))

    def method_of(self, req: ClientRequest) -> str | None:
        """The Web API method a request calls (None for any other URL, e.g. a response_url or a file host)."""
        url = str(req.url)
        if not url.startswith(self.api_url):
            return None
        return url[len(self.api_url):].split("?")[0].strip("/") or None

    async def middleware(self, req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """aiohttp client middleware: pace chat.postMessage per channel and hold methods Slack rate limited."""
        method = self.method_of(req)
        if method is None:
            return await handler(req)
        token = req.headers.get("Authorization", "")
        channel = channel_of(req) if method == "chat.postMessage" else None
        if channel is None:
            await self.before(token, method)
            resp = await handler(req)
            self.after(token, method, resp.status, resp.headers.get("Retry-After"))
            return resp
        async with self.post_turn(token, channel) as lane:
            resp = await handler(req)
            lane.answered(self.clock(), resp.status, resp.headers.get("Retry-After"))
            return resp


def channel_of(req: ClientRequest) -> str | None:
    """The `channel` argument of a Web API request: in its query, or in its JSON body (slack_sdk sends
    chat.postMessage as JSON); None when it cannot be read."""
    channel = req.url.query.get("channel")
    if channel:
        return channel
    body = req.body
    if not body or "json" not in (req.headers.get("Content-Type") or ""):
        return None
    try:
        data = json.loads(body.decode())
    except (ValueError, TypeError, AttributeError):
        return None
    value = data.get("channel") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None
