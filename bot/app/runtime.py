"""Booting the bot for `retro serve`: migrations, app, identity, then HTTP or Socket Mode."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.app.factory import create_app
from bot.app.scheduler import start_scheduler
from bot.app.server import build_web_app, serve_until_stopped
from bot.app.wiring import build_deps
from bot.config import Settings
from bot.deps import Deps
from bot.slack.alert_runner import start_alert_runner
from bot.slack.client import WebClient, make_client
from bot.slack.identity import learn_identity
from storage.migrate import upgrade_async

log = logging.getLogger("retro")


async def boot(settings: Settings, *, client: WebClient | None = None) -> tuple[Deps, AsyncApp]:
    """Apply pending migrations, build the app and learn its identity."""
    await upgrade_async(settings.database_url)
    deps = build_deps(settings)
    client = client or make_client(settings, deps=deps)
    bolt = create_app(settings, client=client, deps=deps)
    if settings.slack_bot_token is not None:
        await learn_identity(deps, client)
    return deps, bolt


async def serve(settings: Settings) -> None:
    """Run until SIGTERM: HTTP on HOST:PORT, or Socket Mode (plus /healthz) when SLACK_APP_TOKEN is set."""
    deps, bolt = await boot(settings)
    web_app = build_web_app(bolt, deps)
    extra = None
    handler: Any = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())

        async def extra() -> None:
            await handler.connect_async()
            log.info("connected to Slack over Socket Mode")

    reminders = await start_scheduler(deps, bolt.client) if settings.retro_scheduler else None
    alerts = await start_alert_runner(deps, bolt.client) if settings.retro_alert_token is not None else None

    async def on_stop() -> None:
        if handler is not None:
            await handler.close_async()
        if alerts is not None:
            await alerts.stop()
        if reminders is not None:
            await reminders.stop()
        await deps.close()

    await serve_until_stopped(web_app, host=settings.host, port=settings.port, metrics_port=settings.retro_metrics_port,
                              extra=extra, on_stop=on_stop)
