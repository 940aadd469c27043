"""The Bolt app factory: no side effects at import, everything from Settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.deps import Deps, build_deps
from bot.errors import ConfigError

log = logging.getLogger("retro")
HANDLER_GROUP = "retro.handlers"
Registrar = Callable[[AsyncApp, Deps], Any]


def registrars() -> list[Registrar]:
    """Listener sets installed under the `retro.handlers` entry-point group (Retro's own is `handlers`)."""
    found = sorted(entry_points(group=HANDLER_GROUP), key=lambda ep: ep.name)
    if not found:
        raise ConfigError("no Slack listeners installed (entry-point group retro.handlers); run `pip install -e .`")
    return [ep.load() for ep in found]


def make_client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL that waits out 429s and retries dropped connections."""
    if token is None and settings.slack_bot_token is not None:
        token = settings.slack_bot_token.get_secret_value()
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=15)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=5))
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client


def create_app(settings: Settings, *, client: AsyncWebClient | None = None, deps: Deps | None = None) -> AsyncApp:
    """Build the async Bolt app with every Retro listener registered."""
    deps = deps or build_deps(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = AsyncApp(
        client=client or make_client(settings),
        signing_secret=secret,
        logger=log,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    for register in registrars():
        register(app, deps)
    return app
