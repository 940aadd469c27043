"""Who takes part in an incident, and the open incidents a person takes part in."""

from __future__ import annotations

from sqlalchemy import exists, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incident.incidents import OPEN_STATUSES
from storage.models import ActionItem, Incident, RoleAssignment, TimelineEntry


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


async def open_with_roles(session: AsyncSession) -> tuple[list[Incident], dict[int, set[tuple[str, str]]]]:
    """Every open incident, and the (role, user) pairs held in each."""
    rows = await session.exec(select(Incident).where(col(Incident.status).in_(OPEN_STATUSES)))
    found = list(rows.all())
    held = await session.exec(select(RoleAssignment).where(
        col(RoleAssignment.incident_id).in_([i.id for i in found]), col(RoleAssignment.ended_at).is_(None)))
    roles: dict[int, set[tuple[str, str]]] = {}
    for r in held.all():
        roles.setdefault(r.incident_id, set()).add((r.role, r.user_id))
    return found, roles
