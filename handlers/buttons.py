"""Buttons and pickers: the incident card, the roles thread, timeline and evidence pages."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import roles_prompt_blocks
from bot.blocks.lists import evidence_list, timeline_page
from bot.blocks.modals import ModalMeta, evidence_modal, triage_modal
from bot.deps import Deps
from bot.ids import ActionId
from bot.incident import evidence, triage
from bot.incident.names import mentioned
from bot.incident.roles import current_roles
from bot.record import timeline
from bot.slack import flows
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.payloads import action_value, clicked


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the card and thread interactions."""

    def ctx_of(body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond | None) -> Ctx:
        return Ctx.of_interaction(deps, client, respond, body)

    @app.action(ActionId.OPEN_TRIAGE)
    @guarded(deps)
    async def open_triage(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = ctx_of(body, client, None)

        async def build() -> dict[str, Any]:
            incident = await ctx.incident_by_id(action_value(body))
            async with deps.session() as session:
                form = triage.form_of(await triage.latest(session, incident.id or 0))
            meta = ModalMeta(team_id=ctx.team_id, channel_id=incident.channel_id, incident_id=incident.id)
            return triage_modal(form, meta)

        await ctx.open_modal("Triage", build)

    @app.action(ActionId.ADD_EVIDENCE)
    @guarded(deps)
    async def add_evidence(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = ctx_of(body, client, None)

        async def build() -> dict[str, Any]:
            incident = await ctx.incident_by_id(action_value(body))
            return evidence_modal(ModalMeta(team_id=ctx.team_id, channel_id=ctx.channel_id, incident_id=incident.id))

        await ctx.open_modal("Add evidence", build)

    @app.action(ActionId.ASSIGN_ROLES)
    @guarded(deps)
    async def assign_roles(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                           respond: AsyncRespond) -> None:
        await ack()
        ctx = ctx_of(body, client, respond)
        incident = await ctx.incident_by_id(action_value(body))
        async with deps.session() as session:
            held = await current_roles(session, incident.id or 0)
        await ctx.reply("Pick people for the roles", roles_prompt_blocks(incident, held, deps.catalog))

    @app.action(re.compile(f"^{ActionId.ROLE_SELECT}:"))
    @guarded(deps)
    async def role_picked(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                          respond: AsyncRespond) -> None:
        await ack()
        picked = clicked(body)
        ctx = ctx_of(body, client, respond)
        await flows.assign_role(client, deps, await ctx.incident(), role=picked.action_id.split(":", 1)[1],
                                user=picked.selected_user, actor=ctx.user_id)

    @app.action(re.compile(f"^{ActionId.TIMELINE_PAGE}(:|$)"))
    @guarded(deps)
    async def timeline_pages(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        await ack()
        incident_id, show_all, page = (int(x) for x in action_value(body).split(":"))
        ctx = ctx_of(body, client, respond)
        incident = await ctx.incident_by_id(incident_id)
        async with deps.session() as session:
            entries = await timeline.entries(session, incident_id, key_only=not show_all)
        names = await ctx.names(mentioned(e.text for e in entries))
        await ctx.reply(f"Timeline of #{incident.channel_name}",
                        timeline_page(incident, entries, page=page, show_all=bool(show_all), tz=deps.catalog.tz,
                                      names=names), replace=True)

    @app.action(re.compile(f"^{ActionId.EVIDENCE_PAGE}(:|$)"))
    @guarded(deps)
    async def evidence_pages(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
        await ack()
        incident_id, page = (int(x) for x in action_value(body).split(":"))
        ctx = ctx_of(body, client, respond)
        incident = await ctx.incident_by_id(incident_id)
        async with deps.session() as session:
            items = await evidence.listing(session, incident_id)
        await ctx.reply(f"{len(items)} evidence item(s)", evidence_list(incident, items, page=page), replace=True)
