"""The App Home: what it shows each person, publishing it, and republishing when something on it changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import home_view
from bot.deps import Deps
from bot.followup import action_items, cadence
from bot.incident.participants import open_with_roles, participants, participating
from bot.insights import patterns
from bot.slack.installs import client_for
from bot.slack.people import Membership
from storage.models import Incident

log = logging.getLogger("retro.home")
Snapshot = dict[int, tuple[Any, ...]]


def _role_names(deps: Deps, ids: list[str]) -> str | None:
    names = [spec.name if (spec := deps.catalog.role(r)) else r for r in sorted(ids)]
    return ", ".join(names) or None


async def publish(client: AsyncWebClient, deps: Deps, *, team_id: str, user: str) -> None:
    """Build and publish one person's Home."""
    async with deps.session() as session:
        items = await action_items.open_for_owner(session, team_id, user)
        incidents = await participating(session, team_id, user)
        library = await patterns.cards(session, team_id)
    # A private incident stays on the Home only while its channel still has them (people leave channels).
    membership = Membership(client, user)
    named = [(i, _role_names(deps, rs)) for i, rs in incidents
             if not i.private or await membership.is_member(i.channel_id)]
    today = cadence.local_today(deps.now(), deps.catalog.tz)
    view = home_view(items, named, deps.catalog, today, deps.workspace_url.get(team_id), patterns=library,
                     web_base=deps.settings.web_base)
    await client.views_publish(user_id=user, view=view)


async def refresh(client: AsyncWebClient, deps: Deps, team_id: str, users: Iterable[str | None]) -> None:
    """Republish these people's Homes; best effort (the Home is rebuilt again whenever it is opened)."""
    for user in sorted({u for u in users if u and u != deps.bot_user_id}):
        try:
            await publish(client, deps, team_id=team_id, user=user)
        except SlackApiError as exc:
            log.warning("Home of %s not refreshed: %s", user, exc.response.get("error"))


class HomeWatch:
    """Notices incidents whose status, severity, title or roles changed since the last look, and refreshes the
    Homes of the people in them (each scheduler keeps its own; publishing twice is harmless)."""

    def __init__(self) -> None:
        self.seen: Snapshot | None = None

    async def _snapshot(self, deps: Deps) -> tuple[Snapshot, dict[int, str]]:
        async with deps.session() as session:
            found, roles = await open_with_roles(session)
        snap = {i.id or 0: (i.status, i.severity, i.title, frozenset(roles.get(i.id or 0, ()))) for i in found}
        return snap, {i.id or 0: i.team_id for i in found}

    async def check(self, client: AsyncWebClient, deps: Deps) -> int:
        """Refresh the Homes touched by incident changes; returns how many incidents changed."""
        snap, teams = await self._snapshot(deps)
        before, self.seen = self.seen, snap
        if before is None:
            return 0
        changed = {i for i in snap.keys() | before.keys() if snap.get(i) != before.get(i)}
        for incident_id in sorted(changed):
            async with deps.session() as session:
                people = await participants(session, incident_id)
                incident = await session.get(Incident, incident_id)
            people |= {u for _, u in before.get(incident_id, (None, None, None, frozenset()))[3]}
            if incident is not None:
                try:
                    team_client = await client_for(client, deps, incident.team_id)
                except SlackApiError:
                    continue  # the workspace has no installed bot any more
                await refresh(team_client, deps, teams.get(incident_id, incident.team_id), people)
        return len(changed)
