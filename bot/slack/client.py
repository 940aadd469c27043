"""The Web API client: on SLACK_API_URL, waiting out 429s, retrying dropped connections, counting calls."""

from __future__ import annotations

import asyncio
import random
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

WebClient = AsyncWebClient  # the type the wiring holds a client by


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out 429s for their Retry-After (fractions too) and counts them per method."""

    def __init__(self, metrics: Metrics | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    async def _can_retry_async(self, *, state: Any, request: Any, response: Any = None,
                               error: Exception | None = None) -> bool:
        if self.metrics is not None and response is not None and response.status_code == 429:
            method = str(request.url).rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            self.metrics.slack_ratelimited.labels(method=method).inc()
        return bool(await super()._can_retry_async(state=state, request=request, response=response, error=error))

    async def prepare_for_next_attempt_async(self, *, state: Any, request: Any, response: Any = None,
                                             error: Exception | None = None) -> None:
        """Wait Retry-After seconds plus jitter of up to min(1 s, Retry-After), then ask for another attempt."""
        if response is None:
            raise error or RuntimeError("no response to a rate-limited call")
        # slack_sdk's own handler does int(header) + up to 1 s: it crashes on a fractional or HTTP-date value
        # and turns a sub-second wait into up to a second.
        raw = next((v[0] for k, v in response.headers.items() if str(k).lower() == "retry-after" and v), None)
        try:
            wait = max(0.0, float(raw)) if raw is not None else 1.0
        except ValueError:
            wait = 1.0
        state.next_attempt_requested = True
        await asyncio.sleep(wait + random.random() * min(1.0, wait))
        state.increment_current_attempt()


def counting_session(deps: Deps) -> aiohttp.ClientSession:
    """The one HTTP session for Slack's Web API; it counts calls per method (Bolt copies the client per request
    but shares this session, so every listener's calls are counted). Deps closes it."""
    base = deps.settings.slack_api_url

    async def on_start(_session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        url = str(params.url)
        if url.startswith(base):
            deps.metrics.slack_calls.labels(method=url[len(base):].split("?")[0]).inc()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    session = aiohttp.ClientSession(trace_configs=[trace], timeout=aiohttp.ClientTimeout(total=30))
    deps.on_close.append(session.close)
    return session


def make_client(settings: Settings, token: str | None = None, *, deps: Deps | None = None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that waits out 429s, retries dropped connections and counts calls."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    session = counting_session(deps) if deps is not None else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=15, session=session)
    client.retry_handlers.append(CountingRateLimitHandler(deps.metrics if deps else None, max_retry_count=5))
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client
