"""Global middleware: de-duplicate Events API deliveries and record timeline happenings before the 200."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot import timeline
from bot.deps import Deps
from handlers.payloads import happening_of


def register(app: AsyncApp, deps: Deps) -> None:
    """Install the ingest middleware."""

    @app.middleware
    async def ingest(body: dict[str, Any], context: AsyncBoltContext,
                     next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        if body.get("type") != "event_callback" or not body.get("event_id"):
            await next()
            return None
        team_id = str(body.get("team_id") or context.team_id or "")
        what = happening_of(body.get("event") or {}, key_reaction=deps.catalog.key_event_reaction,
                            base_url=deps.workspace_url.get(team_id), bot_id=context.bot_id)
        async with deps.session() as session:
            result = await timeline.ingest(session, team_id=team_id, event_id=str(body["event_id"]), what=what,
                                           now=deps.now())
        if result.duplicate:
            # Returning None here would answer 404 and make Slack retry more.
            return BoltResponse(status=200, body="")
        context["incident_id"] = result.incident_id
        await next()
        return None
