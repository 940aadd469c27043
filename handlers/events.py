"""Event listeners. Recording happens in the ingest middleware (before the 200); these do follow-ups."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import chain
from bot.deps import Deps
from bot.errors import RetroError
from bot.slackops import file_digest

log = logging.getLogger("retro.events")

# Every event the manifest subscribes to has a listener here (a test holds the two lists together).
SUBSCRIBED = ("message", "reaction_added", "pin_added", "app_home_opened", "app_uninstalled", "tokens_revoked")


async def hash_shared_files(deps: Deps, client: AsyncWebClient, incident_id: int, event: dict[str, Any]) -> None:
    """Download files shared in an incident channel and chain their SHA-256 digests."""
    for f in event.get("files") or []:
        fid = str(f.get("id") or "")
        if not fid:
            continue
        try:
            digest, meta = await file_digest(client, fid)
            data: dict[str, Any] = {"file": meta, "sha256": digest, "message_ts": event.get("ts")}
        except (RetroError, SlackApiError, OSError) as exc:
            data = {"file": {"id": fid}, "error": str(exc)[:300], "message_ts": event.get("ts")}
        async with deps.session() as session:
            await chain.append(session, incident_id=incident_id, kind="file_hashed", at=deps.now(),
                               actor=event.get("user"), slack_ts=event.get("ts"), data=data)
            await session.commit()


def register(app: AsyncApp, deps: Deps) -> None:
    """Register a listener for every subscribed event."""

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        incident_id = context.get("incident_id")
        if incident_id and event.get("files") and event.get("subtype") in (None, "file_share", "thread_broadcast"):
            await hash_shared_files(deps, client, int(incident_id), event)

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        return None  # key-event reactions are recorded by the ingest middleware

    @app.event("pin_added")
    async def on_pin(event: dict[str, Any]) -> None:
        return None  # pins are recorded by the ingest middleware

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        return None

    @app.event("app_uninstalled")
    async def on_uninstalled(event: dict[str, Any], context: AsyncBoltContext) -> None:
        log.info("app uninstalled from team %s", context.team_id)

    @app.event("tokens_revoked")
    async def on_tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        log.info("tokens revoked in team %s", context.team_id)
