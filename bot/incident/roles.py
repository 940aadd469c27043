"""Incident roles: assignment with history."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog, role_key
from bot.errors import ConflictError, NotAllowedError, UsageError
from bot.hints import did_you_mean
from bot.record import chain
from storage.models import Incident, RoleAssignment

ROLE_USAGE = '/retro role <role> @user  (the role by its id or its name, like "data owner")'


async def current_roles(session: AsyncSession, incident_id: int) -> dict[str, str]:
    """Role id -> user id for the roles currently held."""
    rows = await session.exec(
        select(RoleAssignment).where(RoleAssignment.incident_id == incident_id, col(RoleAssignment.ended_at).is_(None))
    )
    return {r.role: r.user_id for r in rows.all()}


async def role_history(session: AsyncSession, incident_id: int) -> list[RoleAssignment]:
    """Every assignment ever made, oldest first."""
    rows = await session.exec(select(RoleAssignment).where(RoleAssignment.incident_id == incident_id)
                              .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id)))
    return list(rows.all())


async def assign(session: AsyncSession, *, catalog: Catalog, incident: Incident, role: str, user: str, actor: str,
                 now: datetime) -> str | None:
    """Give `role` to `user`; returns the previous holder. Only the commander may, unless configured otherwise."""
    found = catalog.role_named(role)
    if found is None:
        names = [n for r in catalog.roles for n in (r.id, role_key(r.name))]
        raise UsageError(f"Unknown role `{role.strip()[:40]}`.{did_you_mean(role_key(role), names)} Roles: "
                         f"{', '.join(f'{r.id} ({r.name})' for r in catalog.roles)}.", ROLE_USAGE)
    role = found.id
    assert incident.id is not None
    roles = await current_roles(session, incident.id)
    commander = roles.get("commander")
    vacant = role == "commander" and commander is None  # declared from an alert with no commander: anyone takes it
    if role == "commander" and actor != commander and not vacant:
        raise NotAllowedError("Only the current commander can hand over the commander role.")
    if catalog.role_assignment == "commander" and actor != commander and not vacant:
        held = " ({commander})" if commander else ""
        raise NotAllowedError(f"Only the incident commander{held} can assign roles.",
                              people={"commander": commander} if commander else None)
    previous = roles.get(role)
    if previous == user:
        raise ConflictError(f"{{user}} already holds the {role} role.", people={"user": user})
    rows = await session.exec(select(RoleAssignment).where(
        RoleAssignment.incident_id == incident.id, RoleAssignment.role == role, col(RoleAssignment.ended_at).is_(None)))
    for row in rows.all():
        row.ended_at = now
        session.add(row)
    session.add(RoleAssignment(team_id=incident.team_id,
                               incident_id=incident.id, role=role, user_id=user, assigned_by=actor, assigned_at=now))
    await chain.append(session, incident_id=incident.id, kind="role_assigned", at=now, actor=actor, key_event=True,
                       data={"role": role, "user": user, "previous": previous})
    await session.commit()
    return previous
