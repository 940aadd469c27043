"""Turning errors into replies: typed errors become a specific message, others a short one with a correlation id.

Listeners are wrapped with `guarded`, which reports errors raised after `ack()` itself (letting them reach Bolt
right after an ack can lose the ack and answer 404); `@app.error` covers middleware and everything else.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import DBAPIError

from bot.blocks.kit import error_text
from bot.deps import Deps
from bot.errors import RetroError
from bot.safety import escape_mrkdwn
from handlers.context import Ctx
from handlers.payloads import flat_origin

log = logging.getLogger("retro.errors")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def message_for(error: BaseException) -> tuple[str, str | None]:
    """The user-facing text and, for unexpected errors, the correlation id that is also logged."""
    if isinstance(error, RetroError):
        return f":warning: {error_text(error)}", None
    cid = uuid.uuid4().hex[:12]
    if isinstance(error, DBAPIError | ConnectionError | TimeoutError):  # the database is away: operations, not a bug
        log.warning("database unavailable (%s), correlation id %s", type(error).__name__, cid)
        return (f":x: Retro can't reach its database right now, so this was not recorded. Please try again in a "
                f"minute (reference `{cid}`).", cid)
    if isinstance(error, SlackApiError):  # Slack refused a call: an outside failure, not a bug of ours
        code = str(error.response.get("error") or "unknown")
        log.warning("Slack API refused a call (%s), correlation id %s", code, cid)
        return f":x: Slack refused the request (`{escape_mrkdwn(code)}`); reference `{cid}`.", cid
    log.error("unhandled error, correlation id %s (%s)", cid, type(error).__name__, exc_info=error)
    return f":x: Something went wrong on Retro's side (reference `{cid}`). Nothing already recorded was lost.", cid


def ctx_for(deps: Deps, client: AsyncWebClient, respond: AsyncRespond | None, body: dict[str, Any]) -> Ctx:
    """Whom to answer for any kind of payload."""
    if "command" in body:
        return Ctx.of(deps, client, respond, flat_origin(body))
    return Ctx.of_interaction(deps, client, respond, body)


async def report(deps: Deps, client: AsyncWebClient | None, respond: AsyncRespond | None, body: dict[str, Any],
                 error: BaseException) -> None:
    """Tell the person who acted what went wrong (never for Events API deliveries, which Slack retries)."""
    text, cid = message_for(error)
    if body.get("type") == "event_callback" or client is None:
        return
    ctx = ctx_for(deps, client, respond, body)
    if not ctx.user_id:
        return
    try:
        await ctx.reply(text)
    except Exception:  # the reply itself failed; the log line is what remains
        log.warning("could not deliver the error reply%s", f" {cid}" if cid else "", exc_info=True)


def guarded(deps: Deps) -> Callable[[F], F]:
    """Wrap a listener so its errors become replies (to reply, it must declare `body` and `client`)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(**kwargs: Any) -> Any:
            async with deps.inflight.track():
                try:
                    return await fn(**kwargs)
                except Exception as exc:
                    await report(deps, kwargs.get("client"), kwargs.get("respond"), kwargs.get("body") or {}, exc)
                    return None

        return wrapper  # type: ignore[return-value]

    return decorate


def register(app: AsyncApp, deps: Deps) -> None:
    """Install the global error handler (middleware failures and anything not guarded)."""

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], client: AsyncWebClient,
                       respond: AsyncRespond | None) -> None:
        await report(deps, client, respond, body, error)
