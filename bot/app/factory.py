"""The Bolt app factory: no side effects at import, everything from Settings."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

import handlers
from bot.app.wiring import build_deps
from bot.config import Settings
from bot.deps import Deps
from bot.slack.client import WebClient, make_client

log = logging.getLogger("retro")


class _EnvTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns it ignores it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


log.addFilter(_EnvTokenNotice())


def create_app(settings: Settings, *, client: WebClient | None = None, deps: Deps | None = None) -> AsyncApp:
    """Build the async Bolt app with every Retro listener registered."""
    deps = deps or build_deps(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    oauth = None
    if settings.slack_client_id is not None:
        from bot.slack.oauth import oauth_settings  # multi-workspace: tokens come from the installation store

        client = client or make_client(settings, deps=deps)
        client.token = None
        oauth = oauth_settings(settings, deps, client)
        deps.installation_store = oauth.installation_store
    app = AsyncApp(
        client=client or make_client(settings, deps=deps),
        signing_secret=secret,
        oauth_settings=oauth,
        logger=log,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        # Bolt's filter would also drop a person deleting one of our posts (it arrives as `message_deleted` with
        # the bot as `previous_message.user`); handlers.middleware skips the app's own events itself.
        ignoring_self_events_enabled=False,
    )
    handlers.register_all(app, deps)
    return app
