"""Event listeners. Recording happens in the ingest middleware (before the 200); these do follow-ups."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.slack import app_home
from bot.slack.hashing import hash_message_files
from bot.slack.oauth import forget_organization, forget_workspace
from handlers.guard import guarded
from handlers.payloads import flat_origin, home_opened_by, needs_listener, revokes_bot_tokens, shared_files

log = logging.getLogger("retro.events")

# Every event the manifest subscribes to has a listener here (a test holds the two lists together).
SUBSCRIBED = ("message", "reaction_added", "pin_added", "app_home_opened", "app_uninstalled", "tokens_revoked")


def register(app: AsyncApp, deps: Deps) -> None:
    """Register a listener for every subscribed event."""

    @app.event("message")
    @guarded(deps)
    async def on_message(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        incident_id = context.get("incident_id")
        ts = shared_files(event).ts
        if incident_id is not None and ts is not None and needs_listener(event, int(incident_id)):
            # The ingest writer left a pending row per file with the message; a crash here leaves them to the
            # scheduler's pass.
            await hash_message_files(client, deps, incident_id=int(incident_id), message_ts=ts)

    @app.event("reaction_added")
    @guarded(deps)
    async def on_reaction(event: dict[str, Any]) -> None:
        return None  # key-event reactions are recorded by the ingest middleware

    @app.event("pin_added")
    @guarded(deps)
    async def on_pin(event: dict[str, Any]) -> None:
        return None  # pins are recorded by the ingest middleware

    @app.event("app_home_opened")
    @guarded(deps)
    async def on_home(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        user = home_opened_by(event)
        if user is not None:
            await app_home.publish(client, deps, team_id=str(context.team_id or ""), user=user)

    async def forget(body: dict[str, Any], context: AsyncBoltContext, why: str) -> None:
        if context.is_enterprise_install and context.enterprise_id:  # the org-wide install itself is gone
            teams = await forget_organization(deps, enterprise_id=context.enterprise_id,
                                              store=deps.installation_store)
            log.info("organization forgotten", extra={"enterprise": context.enterprise_id, "teams": teams, "why": why})
            return
        team_id = flat_origin(body).team_id or str(context.team_id or "")
        await forget_workspace(deps, team_id=team_id, enterprise_id=flat_origin(body).enterprise_id,
                               store=deps.installation_store)
        log.info("workspace forgotten", extra={"team": team_id, "why": why})

    @app.event("app_uninstalled")
    @guarded(deps)
    async def on_uninstalled(body: dict[str, Any], context: AsyncBoltContext) -> None:
        await forget(body, context, "app_uninstalled")

    @app.event("tokens_revoked")
    @guarded(deps)
    async def on_tokens_revoked(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        if revokes_bot_tokens(event):
            await forget(body, context, "tokens_revoked")
