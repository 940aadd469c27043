"""The Web API client: on SLACK_API_URL, keeping to Slack's pace, waiting out 429s, retrying dropped connections,
counting calls."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.deps import Deps
from bot.observability import Metrics
from bot.slack.pace import SlackPace, retry_after_seconds

WebClient = AsyncWebClient  # the type the wiring holds a client by
# How long one call may spend waiting out 429s in all, unless the caller set a deadline of its own (`deadline`).
RATE_LIMIT_PATIENCE = 120.0
# The handler's count of retries, 429s and dropped connections together (slack_sdk stops any call at 100 tries).
MAX_RETRIES = 60
WAITED = "retro_waited_seconds"
_deadline: ContextVar[float | None] = ContextVar("retro_slack_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within this block, a 429 whose Retry-After would end past `seconds` from now is handed back to the caller
    (as slack_sdk's SlackApiError with status 429) instead of being waited out: a background sender then puts its
    work off until the Retry-After rather than outliving its own time limit."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out 429s for their Retry-After (fractions too), as often as Slack asks within RATE_LIMIT_PATIENCE
    seconds (or the caller's `deadline`), and counts them per method."""

    def __init__(self, metrics: Metrics | None, *, patience: float = RATE_LIMIT_PATIENCE, **kwargs: Any) -> None:
        super().__init__(**{"max_retry_count": MAX_RETRIES, **kwargs})
        self.metrics = metrics
        self.patience = patience

    async def _can_retry_async(self, *, state: Any, request: Any, response: Any = None,
                               error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        if self.metrics is not None:
            method = str(request.url).rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            self.metrics.slack_ratelimited.labels(method=method).inc()
        waited = _waited(state)
        wait = retry_after_seconds(_header(response, "retry-after"))
        limit = _deadline.get()
        if limit is not None and time.monotonic() + wait > limit:
            return False
        return waited + wait <= self.patience

    async def prepare_for_next_attempt_async(self, *, state: Any, request: Any, response: Any = None,
                                             error: Exception | None = None) -> None:
        """Wait Retry-After seconds plus jitter of up to min(1 s, Retry-After), then ask for another attempt."""
        if response is None:
            raise error or RuntimeError("no response to a rate-limited call")
        # slack_sdk's own handler does int(header) + up to 1 s: it crashes on a fractional or HTTP-date value
        # and turns a sub-second wait into up to a second.
        wait = retry_after_seconds(_header(response, "retry-after"))
        wait += random.random() * min(1.0, wait)
        state.custom_values = {**(state.custom_values or {}), WAITED: _waited(state) + wait}
        state.next_attempt_requested = True
        await asyncio.sleep(wait)
        state.increment_current_attempt()


def _waited(state: Any) -> float:
    # How long this call has waited so far, kept on slack_sdk's per-call retry state.
    return float((state.custom_values or {}).get(WAITED, 0.0))


def _header(response: Any, name: str) -> str | None:
    return next((str(v[0]) for k, v in response.headers.items() if str(k).lower() == name and v), None)


def counting_session(deps: Deps) -> aiohttp.ClientSession:
    """The one HTTP session for Slack's Web API; it counts calls per method and keeps to Slack's pace (Bolt copies
    the client per request but shares this session, so every listener's calls are counted and paced). Deps closes
    it."""
    base = deps.settings.slack_api_url

    async def on_start(_session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        url = str(params.url)
        if url.startswith(base):
            deps.metrics.slack_calls.labels(method=url[len(base):].split("?")[0]).inc()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    pace = SlackPace(base)  # every client on this session keeps to one pace (bot.slack.pace)
    session = aiohttp.ClientSession(trace_configs=[trace], timeout=aiohttp.ClientTimeout(total=30),
                                    middlewares=(pace.middleware,))
    deps.on_close.append(session.close)
    return session


def make_client(settings: Settings, token: str | None = None, *, deps: Deps | None = None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that keeps to Slack's pace, waits out 429s, retries dropped connections
    and counts calls."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    session = counting_session(deps) if deps is not None else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=15, session=session)
    client.retry_handlers.append(CountingRateLimitHandler(deps.metrics if deps else None))
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client
