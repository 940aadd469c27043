"""The one error handler: typed errors become a specific reply, others a short reply with a correlation id."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import RetroError
from handlers.context import Ctx

log = logging.getLogger("retro.errors")


def message_for(error: Exception) -> tuple[str, str | None]:
    """The user-facing text and, for unexpected errors, the correlation id that is also logged."""
    if isinstance(error, RetroError):
        return f":warning: {error.user_message}", None
    cid = uuid.uuid4().hex[:12]
    return f":x: Something went wrong on Retro's side (reference `{cid}`). Nothing you had recorded was lost.", cid


def register(app: AsyncApp, deps: Deps) -> None:
    """Install the global error handler."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient,
                       respond: AsyncRespond | None) -> None:
        text, cid = message_for(error)
        if cid is not None:
            log.error("unhandled error, correlation id %s (%s)", cid, type(error).__name__, exc_info=error)
        if body.get("type") == "event_callback":
            return  # Slack retries failed deliveries; there is nobody to answer
        ctx = Ctx.of_interaction(deps, client, respond, body)
        if "command" in body:
            ctx.team_id, ctx.user_id = str(body.get("team_id", "")), str(body.get("user_id", ""))
            ctx.channel_id = str(body.get("channel_id", ""))
        if not ctx.user_id:
            return
        try:
            await ctx.reply(text)
        except Exception:  # the reply itself failed; the log line above is what remains
            log.warning("could not deliver the error reply%s", f" {cid}" if cid else "", exc_info=True)
