"""The two buttons of a question asked before a command goes ahead (bot.blocks.confirm): go ahead runs the command
again, as it was typed, without asking; cancel says nothing was done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.confirm import Confirmation
from bot.deps import Deps
from bot.errors import NotAllowedError, RetroError
from bot.ids import ActionId
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.parsing import Parsed, parse
from handlers.payloads import action_value

Subcommand = Callable[[Ctx, Parsed], Awaitable[None]]


def _request(ctx: Ctx, body: dict[str, Any]) -> Confirmation:
    try:
        request = Confirmation.model_validate_json(action_value(body))
    except ValidationError:
        raise RetroError("This button carries no command Retro can run.") from None
    if request.user != ctx.user_id:  # ephemeral questions reach only their asker; a forged click is refused
        raise NotAllowedError("Only the person who ran the command can answer this question.")
    return request


def register(app: AsyncApp, deps: Deps, subcommands: Mapping[str, Subcommand]) -> None:
    """Register go-ahead and cancel; `subcommands` is the `/retro` router's table."""

    @app.action(ActionId.CONFIRM_COMMAND)
    @guarded(deps)
    async def go_ahead(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, respond, body)
        request = _request(ctx, body)
        cmd = parse(request.command)
        handler = subcommands.get(cmd.name)
        if handler is None:
            raise RetroError(f"`{cmd.name}` is not available in this version of Retro.")
        await ctx.replace_message(":white_check_mark: Going ahead.")
        ctx.confirmed = True
        await handler(ctx, cmd)

    @app.action(ActionId.CANCEL_COMMAND)
    @guarded(deps)
    async def cancel(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, respond, body)
        await ctx.replace_message(_request(ctx, body).cancelled)
