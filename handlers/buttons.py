"""Buttons and pickers: the incident card, the roles thread, timeline pages."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import roles_prompt_blocks
from bot.blocks.modals import ModalMeta, triage_modal
from bot.deps import Deps
from bot.ids import ActionId
from bot.incident import triage
from bot.incident.roles import current_roles
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.incident_cmds import assign_role, open_evidence_modal, show_timeline


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the card and thread interactions."""

    def ctx_of(body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None) -> Ctx:
        return Ctx.of_interaction(deps, client, respond, body)

    @app.action(ActionId.OPEN_TRIAGE)
    @guarded(deps)
    async def open_triage(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = ctx_of(body, client, None)
        incident = await ctx.incident_by_id(_value(body))
        async with deps.session() as session:
            form = triage.form_of(await triage.latest(session, incident.id or 0))
        meta = ModalMeta(team_id=ctx.team_id, channel_id=incident.channel_id, incident_id=incident.id)
        await client.views_open(trigger_id=ctx.trigger_id, view=triage_modal(form, meta))

    @app.action(ActionId.ADD_EVIDENCE)
    @guarded(deps)
    async def add_evidence(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = ctx_of(body, client, None)
        incident = await ctx.incident_by_id(_value(body))
        await open_evidence_modal(ctx, incident.id or 0)

    @app.action(ActionId.ASSIGN_ROLES)
    @guarded(deps)
    async def assign_roles(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                           respond: AsyncRespond) -> None:
        await ack()
        ctx = ctx_of(body, client, respond)
        incident = await ctx.incident_by_id(_value(body))
        async with deps.session() as session:
            held = await current_roles(session, incident.id or 0)
        await ctx.reply("Pick people for the roles", roles_prompt_blocks(incident, held, deps.catalog))

    @app.action(re.compile(f"^{ActionId.ROLE_SELECT}:"))
    @guarded(deps)
    async def role_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                          respond: AsyncRespond) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        role_id = str(action.get("action_id", "")).split(":", 1)[1]
        await assign_role(ctx_of(body, client, respond), role_id, str(action.get("selected_user") or ""))

    @app.action(ActionId.TIMELINE_PAGE)
    @guarded(deps)
    async def timeline_page(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                            respond: AsyncRespond) -> None:
        await ack()
        incident_id, show_all, page = (int(x) for x in _value(body).split(":"))
        await show_timeline(ctx_of(body, client, respond), incident_id, show_all=bool(show_all), page=page,
                            replace=True)
