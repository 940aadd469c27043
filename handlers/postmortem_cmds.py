"""`/retro postmortem` and the Postmortem button (on the incident card and on each draft's summary)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.ids import ActionId
from bot.postmortem import draft
from bot.slack import flows
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.parsing import Parsed
from handlers.payloads import action_value

log = logging.getLogger("retro.postmortem")


async def postmortem(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro postmortem`: draft (again) from everything recorded so far."""
    cmd.allow_options()
    if cmd.words:
        raise cmd.fail("`postmortem` takes no arguments.")
    await flows.draft_postmortem(ctx.client, ctx.deps, await ctx.incident(), actor=ctx.user_id)


def register(app: AsyncApp, deps: Deps) -> None:
    """The Postmortem button (on the incident card and on each draft's summary); checks the templates once."""
    try:
        draft.check_templates(deps.templates)
    except draft.TemplateError as exc:  # capture keeps working; drafting reports the same error until fixed
        log.error("postmortem templates are broken: %s", exc.user_message)

    @app.action(ActionId.POSTMORTEM)
    @guarded(deps)
    async def postmortem_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                                respond: AsyncRespond) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, respond, body)
        incident = await ctx.incident_by_id(action_value(body))  # a private incident: members only
        await flows.draft_postmortem(client, deps, incident, actor=ctx.user_id)
