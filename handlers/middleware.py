"""Global middleware: de-duplicate Events API deliveries and record timeline happenings before the 200.

A class-based middleware (no per-request argument injection): it sits on the hot path of every event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.deps import Deps
from bot.record.ingest import IngestQueue
from bot.slack.installs import remember_org_workspace
from handlers.payloads import happening_of, needs_listener, skips_own_event

log = logging.getLogger("retro.ingest")


class IngestMiddleware(AsyncMiddleware):
    """Claims each delivery's event_id and records what it means, in one group-committed transaction."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.ingest = deps.get(IngestQueue)

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        """Record, then continue; a repeat delivery is answered 200 without running listeners."""
        body = req.body
        if body.get("type") != "event_callback" or not body.get("event_id"):
            return await next()
        deps, context = self.deps, req.context
        auth = context.authorize_result
        if auth is not None and skips_own_event(body.get("event") or {}, actor=context.user_id,
                                                bot_user_id=auth.bot_user_id, bot_id=auth.bot_id):
            return BoltResponse(status=200, body="")  # recorded when the app acted; nothing runs on it
        team_id = str(body.get("team_id") or context.team_id or "")
        what = happening_of(body.get("event") or {}, key_reaction=deps.catalog.key_event_reaction,
                            base_url=deps.workspace_url.get(team_id), bot_id=context.bot_id)
        try:
            result = await self.ingest.submit(team_id=team_id, event_id=str(body["event_id"]), what=what,
                                              now=deps.now())
        except (SQLAlchemyError, OSError) as exc:  # unreachable (connect errors are bare OSErrors), locked
            # Nothing was recorded. A 500 makes Slack deliver the event again later; the ingest writer has
            # logged the failed batch, so no traceback per delivery.
            deps.metrics.db_errors.inc()
            log.debug("event %s not recorded: %s", body.get("event_id"), type(exc).__name__)
            return BoltResponse(status=500, body="")
        if result.refused:
            # The database refused this event on its own (the writer logged it) and would refuse every retry of it.
            # Slack retries any answer but a 2xx, and an app whose deliveries keep failing is rate limited and may
            # be disabled (https://docs.slack.dev/apis/events-api/, "Retries"; ../shared/slack/behaviours.md), so
            # a 200 ends it here; the other events of its batch were recorded without it.
            deps.metrics.db_errors.inc()
            return BoltResponse(status=200, body="")
        if result.duplicate:
            context["duplicate"] = True
            # Returning None here would answer 404 and make Slack retry more.
            return BoltResponse(status=200, body="")
        if result.entries:
            deps.metrics.events_recorded.inc(len(result.entries))
        context["incident_id"] = result.incident_id
        if not needs_listener(body.get("event") or {}, result.incident_id):
            return BoltResponse(status=200, body="")  # recorded, nothing more to do: skip listener matching
        return await next()


class OrgWorkspaces(AsyncMiddleware):
    """Keeps a row for each workspace an org-wide install serves, from its first request on: background sends find
    the organization's bot for it through that row (the install itself names no workspace)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        """Remember the workspace (once per process), then continue."""
        context = req.context
        if context.is_enterprise_install and context.enterprise_id and context.team_id:
            await remember_org_workspace(self.deps, enterprise_id=context.enterprise_id, team_id=context.team_id)
        return await next()


def register(app: AsyncApp, deps: Deps) -> None:
    """Install the middleware: org-served workspaces first, then ingest."""
    app.use(OrgWorkspaces(deps))
    app.use(IngestMiddleware(deps))
