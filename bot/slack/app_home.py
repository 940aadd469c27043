"""The App Home: what it shows each person, publishing it, and republishing when something on it changes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import exists, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blocks.home import home_view
from bot.deps import Deps
from bot.followup import action_items, cadence
from bot.incident.incidents import OPEN_STATUSES
from bot.slack.delivery import client_for
from bot.slack.people import is_member
from storage.models import ActionItem, Incident, RoleAssignment, TimelineEntry

log = logging.getLogger("retro.home")
Snapshot = dict[int, tuple[Any, ...]]


async def participating(session: AsyncSession, team_id: str, user: str) -> list[tuple[Incident, list[str]]]:
    """Open incidents the user takes part in (declared, holds a role, acted in, or owns an item of), with roles."""
    held = await session.exec(select(RoleAssignment).where(RoleAssignment.user_id == user,
                                                           col(RoleAssignment.ended_at).is_(None)))
    roles: dict[int, list[str]] = {}
    for r in held.all():
        roles.setdefault(r.incident_id, []).append(r.role)
    acted = exists().where(col(TimelineEntry.incident_id) == col(Incident.id), col(TimelineEntry.actor) == user)
    owns = exists().where(col(ActionItem.incident_id) == col(Incident.id), col(ActionItem.owner) == user,
                          col(ActionItem.status) == "open")
    rows = await session.exec(
        select(Incident).where(Incident.team_id == team_id, col(Incident.status).in_(OPEN_STATUSES),
                               or_(col(Incident.declared_by) == user, col(Incident.id).in_(list(roles)), acted, owns))
        .order_by(col(Incident.severity), col(Incident.created_at)))
    return [(i, roles.get(i.id or 0, [])) for i in rows.all()]


async def participants(session: AsyncSession, incident_id: int) -> set[str]:
    """Everyone whose Home lists this incident."""
    incident = await session.get(Incident, incident_id)
    people: set[str] = {incident.declared_by} if incident else set()
    held = await session.exec(select(RoleAssignment.user_id).where(RoleAssignment.incident_id == incident_id,
                                                                   col(RoleAssignment.ended_at).is_(None)))
    actors = await session.exec(select(TimelineEntry.actor).where(TimelineEntry.incident_id == incident_id)
                                .distinct())
    owners = await session.exec(select(ActionItem.owner).where(ActionItem.incident_id == incident_id).distinct())
    people.update(held.all(), (a for a in actors.all() if a), owners.all())
    return people


def _role_names(deps: Deps, ids: list[str]) -> str | None:
    names = [spec.name if (spec := deps.catalog.role(r)) else r for r in sorted(ids)]
    return ", ".join(names) or None


async def publish(client: AsyncWebClient, deps: Deps, *, team_id: str, user: str) -> None:
    """Build and publish one person's Home."""
    async with deps.session() as session:
        items = await action_items.open_for_owner(session, team_id, user)
        incidents = await participating(session, team_id, user)
    # A private incident stays on the Home only while its channel still has them (people leave channels).
    named = [(i, _role_names(deps, rs)) for i, rs in incidents
             if not i.private or await is_member(client, i.channel_id, user)]
    today = cadence.local_today(deps.now(), deps.catalog.tz)
    view = home_view(items, named, deps.catalog, today, deps.workspace_url.get(team_id))
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
            rows = await session.exec(select(Incident).where(col(Incident.status).in_(OPEN_STATUSES)))
            found = list(rows.all())
            held = await session.exec(select(RoleAssignment).where(
                col(RoleAssignment.incident_id).in_([i.id for i in found]), col(RoleAssignment.ended_at).is_(None)))
            roles: dict[int, set[tuple[str, str]]] = {}
            for r in held.all():
                roles.setdefault(r.incident_id, set()).add((r.role, r.user_id))
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
