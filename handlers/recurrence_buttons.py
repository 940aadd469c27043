"""The recurrence offer's buttons: Confirm recurrence and Not related."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.ids import ActionId
from bot.slack.recurrence_flow import answer_offer
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.payloads import action_value, in_message


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the answers to a recurrence offer."""

    async def answer(body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, confirmed: bool) -> None:
        ctx = Ctx.of_interaction(deps, client, respond, body)
        value = action_value(body)
        decided, text, blocks = await answer_offer(deps, link_id=int(value) if value.isdigit() else 0,
                                                   team_id=ctx.team_id, channel_id=ctx.channel_id, confirmed=confirmed,
                                                   actor=ctx.user_id)
        if in_message(body):
            await ctx.replace_message(text, blocks)
        if not decided.changed:
            said = "confirmed" if decided.link.state == "confirmed" else "marked not related"
            await ctx.reply(f"<@{decided.link.decided_by}> already {said} this one; nothing was changed.")

    @app.action(ActionId.RECURRENCE_CONFIRM)
    @guarded(deps)
    async def confirm(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await answer(body, client, respond, True)

    @app.action(ActionId.RECURRENCE_DISMISS)
    @guarded(deps)
    async def dismiss(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await answer(body, client, respond, False)
