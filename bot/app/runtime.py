"""Booting the bot for `retro serve`: migrations, app, identity, then HTTP or Socket Mode."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.factory import create_app
from bot.app.scheduler import start_scheduler
from bot.app.server import build_web_app, serve_until_stopped
from bot.app.wiring import build_deps
from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError
from bot.slack.client import make_client
from storage.migrate import upgrade_async
from storage.models import Workspace

log = logging.getLogger("retro")


async def learn_identity(deps: Deps, client: AsyncWebClient) -> None:
    """Ask Slack who the bot is (auth.test) and remember the workspace's URL for permalinks."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack: {exc.response.get('error')}") from None
    deps.bot_user_id = str(auth.get("user_id") or "") or None
    team_id = str(auth.get("team_id") or "")
    url = str(auth.get("url") or "")
    deps.workspace_url[team_id] = url
    async with deps.session() as session:
        row = await session.get(Workspace, team_id)
        if row is None:
            row = Workspace(team_id=team_id, installed_at=datetime.now(UTC))
        row.name, row.url, row.enterprise_id = str(auth.get("team") or ""), url, auth.get("enterprise_id")
        session.add(row)
        await session.commit()


async def boot(settings: Settings, *, client: AsyncWebClient | None = None) -> tuple[Deps, AsyncApp]:
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

    async def on_stop() -> None:
        if handler is not None:
            await handler.close_async()
        if reminders is not None:
            await reminders.stop()
        await deps.close()

    await serve_until_stopped(web_app, host=settings.host, port=settings.port, extra=extra, on_stop=on_stop)
