"""Action items A1, A2…: an owner, a due date, a kind; every change is chained and reschedules the reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.errors import ConflictError, NotAllowedError, NotFoundError, UsageError
from bot.followup import cadence, reminders
from bot.hints import did_you_mean
from bot.incident.hypotheses import get as get_hypothesis
from bot.incident.roles import current_roles
from bot.record import chain
from bot.timeparse import parse_due
from storage.models import ActionItem, Incident
from storage.safetext import storable

KINDS = ("guardrail", "monitor", "test", "process", "fix")
ACTION_USAGE = ("/retro action <title> owner=@user due=<date> [kind=guardrail|monitor|test|process|fix] "
                '[hypothesis=H<n>] [rollback="…"] [recheck=7d]')
DUE_USAGE = "/retro due A<n> <date>"
MAX_TITLE = 300
# The first reminder after an assignment or a new due date comes at least this long after it.
GRACE = timedelta(hours=1)


class ActionFieldError(UsageError):
    """Invalid input that names the field it is about (the modal shows the problem under that field)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem, ACTION_USAGE)
        self.field = field


@dataclass(frozen=True)
class ActionInput:
    """A validated request for a new action item."""

    title: str
    owner: str
    due: date
    kind: str = "fix"
    hypothesis: int | None = None


@dataclass(frozen=True)
class Change:
    """What a change did: the item after it, and the assignment DM to deliver right away (if any)."""

    action: ActionItem
    notify: int | None = None
    previous_owner: str | None = None


def parse_due_date(catalog: Catalog, text: str, *, now: datetime, usage: str) -> date:
    """A due date typed by a user, in the team's calendar; today is the earliest allowed."""
    today = cadence.local_today(now, catalog.tz)
    due = parse_due(text, today=today, usage=usage)
    if due < today:
        raise UsageError(f"The due date {due.isoformat()} is in the past (today is {today.isoformat()}).", usage)
    return due


def validate(catalog: Catalog, *, title: str, owner: str | None, due: str | None, kind: str | None,
             hypothesis: int | None, now: datetime) -> ActionInput:
    """Check title, owner, due date and kind."""
    title = storable(" ".join(title.split()))
    if not title:
        raise ActionFieldError("title", "An action item needs a title.")
    if len(title) > MAX_TITLE:
        raise ActionFieldError("title", f"The title is longer than {MAX_TITLE} characters.")
    if not owner:
        raise ActionFieldError("owner", "An action item needs an owner: owner=@user.")
    if not due:
        raise ActionFieldError("due", "An action item needs a due date: due=friday, due=+3d, due=\"next week\" or "
                                      "due=YYYY-MM-DD.")
    kind_id = (kind or "fix").strip().lower()
    if kind_id not in KINDS:
        raise ActionFieldError("kind", f"Unknown kind `{kind}`.{did_you_mean(kind_id, KINDS)} Kinds: "
                                       f"{', '.join(KINDS)}.")
    try:
        when = parse_due_date(catalog, due, now=now, usage=ACTION_USAGE)
    except UsageError as exc:
        raise ActionFieldError("due", exc.problem) from None
    return ActionInput(title, owner, when, kind_id, hypothesis)


async def listing(session: AsyncSession, incident_id: int) -> list[ActionItem]:
    """Every action item of an incident, A1 first."""
    rows = await session.exec(select(ActionItem).where(ActionItem.incident_id == incident_id)
                              .order_by(col(ActionItem.number)))
    return list(rows.all())


async def get(session: AsyncSession, incident_id: int, number: int) -> ActionItem:
    """A<number> of the incident, or an error naming the ones that exist."""
    items = await listing(session, incident_id)
    found = next((a for a in items if a.number == number), None)
    if found is None:
        known = ", ".join(f"A{a.number}" for a in items[:20]) or "none yet"
        raise NotFoundError(f"No action item A{number} in this incident (known: {known}).")
    return found


async def by_id(session: AsyncSession, action_id: int, *, team_id: str) -> tuple[ActionItem, Incident]:
    """An action item and its incident by database id (buttons carry it), within one workspace."""
    row = await session.get(ActionItem, action_id)
    if row is None or row.team_id != team_id:
        raise NotFoundError("That action item no longer exists.")
    incident = await session.get(Incident, row.incident_id)
    assert incident is not None
    return row, incident


async def open_for_owner(session: AsyncSession, team_id: str, owner: str) -> list[tuple[ActionItem, Incident]]:
    """The owner's open items across incidents: earliest due first, so overdue ones lead."""
    rows = await session.exec(
        select(ActionItem, Incident).join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(ActionItem.team_id == team_id, ActionItem.owner == owner, ActionItem.status == "open")
        .order_by(col(ActionItem.due), col(ActionItem.incident_id), col(ActionItem.number)))
    return [(a, i) for a, i in rows.all()]


async def open_in_team(session: AsyncSession, team_id: str, *,
                       public_only: bool = False) -> list[tuple[ActionItem, Incident]]:
    """Every open item of a workspace, earliest due first; `public_only` leaves out private incidents' items (the
    weekly digest is posted in a channel that is not theirs)."""
    query = (select(ActionItem, Incident).join(Incident, col(Incident.id) == col(ActionItem.incident_id))
             .where(ActionItem.team_id == team_id, ActionItem.status == "open"))
    if public_only:
        query = query.where(col(Incident.private).is_(False))
    rows = await session.exec(query.order_by(col(ActionItem.due), col(ActionItem.incident_id), col(ActionItem.number)))
    return [(a, i) for a, i in rows.all()]


async def schedule(session: AsyncSession, catalog: Catalog, action: ActionItem, *, after: datetime) -> None:
    """Replace the item's pending owner reminders and escalation with the ones its due date calls for."""
    assert action.id is not None
    cfg, tz = catalog.reminders, catalog.tz
    await reminders.cancel(session, action_id=action.id, kinds=(*reminders.OWNER_KINDS, "escalation"))
    await add_owner_point(session, action, cadence.next_owner_point(action.due, after, cfg, tz))
    await reminders.add(session, team_id=action.team_id, kind="escalation", due_at=cadence.escalation_at(
        action.due, cfg, tz), dedupe_key=f"a{action.id}:escalation:{action.due.isoformat()}",
        incident_id=action.incident_id, action_id=action.id, data={"due": action.due.isoformat()}, revive=True)


async def add_owner_point(session: AsyncSession, action: ActionItem, point: cadence.Point) -> int | None:
    """Schedule one owner reminder (idempotent: its key is the item, the kind and the moment)."""
    assert action.id is not None
    return await reminders.add(session, team_id=action.team_id, kind=point.kind, due_at=point.at,
                               dedupe_key=f"a{action.id}:{point.kind}:{iso(point.at)}",
                               incident_id=action.incident_id, action_id=action.id,
                               data={"due": action.due.isoformat()}, revive=True)


async def _assignment(session: AsyncSession, action: ActionItem, *, seq: int, by: str, now: datetime) -> int | None:
    assert action.id is not None
    return await reminders.add(session, team_id=action.team_id, kind="assigned", due_at=now,
                               dedupe_key=f"a{action.id}:assigned:{seq}", incident_id=action.incident_id,
                               action_id=action.id, data={"owner": action.owner, "by": by})


async def create(session: AsyncSession, *, catalog: Catalog, incident: Incident, item: ActionInput, actor: str,
                 now: datetime) -> Change:
    """Record A<n>, schedule its reminders and the owner's DM; commits."""
    assert incident.id is not None
    if item.hypothesis is not None:
        await get_hypothesis(session, incident.id, item.hypothesis)
    number = await chain.bump_counter(session, incident.id, "action_seq")  # locks the incident: its status holds
    late = (await session.exec(select(Incident.status).where(Incident.id == incident.id))).one() == "closed"
    row = ActionItem(team_id=incident.team_id, incident_id=incident.id, number=number, title=item.title,
                     owner=item.owner, due=item.due, kind=item.kind, hypothesis=item.hypothesis, created_by=actor,
                     created_at=now, after_close=late)
    session.add(row)
    data = {"number": number, "owner": item.owner, "due": item.due.isoformat(), "kind": item.kind,
            "hypothesis": item.hypothesis}
    entry = await chain.append(session, incident_id=incident.id, kind="action_added", at=now, actor=actor,
                               text=item.title, key_event=True, data=data | ({"after_close": True} if late else {}))
    await session.flush()
    await schedule(session, catalog, row, after=now + GRACE)
    notify = await _assignment(session, row, seq=entry.seq, by=actor, now=now)
    await session.commit()
    return Change(row, notify)


async def _locked(session: AsyncSession, action_id: int, actor: str) -> ActionItem:
    # The UPDATE takes the row lock (and SQLite's write lock) first, so concurrent changes and the
    # scheduler's follow-ups on the same item run one after the other on fresh data.
    await session.exec(update(ActionItem).where(col(ActionItem.id) == action_id)
                          .values(number=col(ActionItem.number)))
    row = (await session.exec(select(ActionItem).where(ActionItem.id == action_id)
                              .execution_options(populate_existing=True))).one()
    if row.status != "open":
        when = f" on {row.closed_at:%Y-%m-%d}" if row.closed_at else ""
        raise ConflictError(f"A{row.number} is already {row.status}{when}.")
    if actor not in (row.owner, row.created_by):
        commander = (await current_roles(session, row.incident_id)).get("commander")
        if actor != commander:
            raise NotAllowedError(f"Only the owner ({{owner}}), the commander or whoever created A{row.number} "
                                  "can change it.", people={"owner": row.owner})
    return row


async def _chain(session: AsyncSession, row: ActionItem, kind: str, *, actor: str, now: datetime,
                 text: str | None = None, **data: object) -> int:
    entry = await chain.append(session, incident_id=row.incident_id, kind=kind, at=now, actor=actor, text=text,
                               data={"number": row.number, **data})
    return entry.seq


async def complete(session: AsyncSession, *, action_id: int, note: str, actor: str, now: datetime) -> Change:
    """Mark done and cancel its reminders; commits."""
    row = await _locked(session, action_id, actor)
    row.status, row.closed_at, row.close_note = "done", now, storable(note.strip()) or None
    session.add(row)
    await reminders.cancel(session, action_id=action_id, reason="done")
    await _chain(session, row, "action_done", actor=actor, now=now, text=row.close_note)
    await session.commit()
    return Change(row)


async def drop(session: AsyncSession, *, action_id: int, reason: str, actor: str, now: datetime) -> Change:
    """Drop the item with a reason and cancel its reminders; commits."""
    if not reason.strip():
        raise UsageError("Dropping an action item needs a reason.", "/retro drop A<n> <reason>")
    row = await _locked(session, action_id, actor)
    row.status, row.closed_at, row.close_note = "dropped", now, storable(reason.strip())
    session.add(row)
    await reminders.cancel(session, action_id=action_id, reason="dropped")
    await _chain(session, row, "action_dropped", actor=actor, now=now, text=row.close_note)
    await session.commit()
    return Change(row)


async def reassign(session: AsyncSession, *, action_id: int, owner: str, actor: str, now: datetime) -> Change:
    """Give the item to someone else and tell them; reminders follow the item to its new owner; commits."""
    row = await _locked(session, action_id, actor)
    previous = row.owner
    if owner == previous:
        raise ConflictError(f"A{row.number} is already owned by {{owner}}.", people={"owner": owner})
    row.owner = owner
    session.add(row)
    seq = await _chain(session, row, "action_reassigned", actor=actor, now=now, previous=previous, owner=owner)
    await reminders.cancel(session, action_id=action_id, kinds=("assigned",))
    notify = await _assignment(session, row, seq=seq, by=actor, now=now)
    await session.commit()
    return Change(row, notify, previous)


async def set_due(session: AsyncSession, *, catalog: Catalog, action_id: int, due: date, actor: str,
                  now: datetime) -> Change:
    """Move the due date and reschedule every reminder; commits."""
    row = await _locked(session, action_id, actor)
    previous = row.due
    if due == previous:
        raise ConflictError(f"A{row.number} is already due {due.isoformat()}.")
    row.due = due
    session.add(row)
    await _chain(session, row, "action_due_changed", actor=actor, now=now, previous=previous.isoformat(),
                 due=due.isoformat())
    await schedule(session, catalog, row, after=now + GRACE)
    await session.commit()
    return Change(row)


async def snooze(session: AsyncSession, *, catalog: Catalog, action_id: int, days: int, actor: str,
                 now: datetime) -> tuple[Change, datetime]:
    """Quiet the owner's reminders for `days` (the due date and the commander's escalation stay); commits."""
    row = await _locked(session, action_id, actor)
    point = cadence.snoozed_point(row.due, now, now + timedelta(days=days), catalog.reminders, catalog.tz)
    await reminders.cancel(session, action_id=action_id, kinds=reminders.OWNER_KINDS, reason="snoozed")
    await add_owner_point(session, row, point)
    await _chain(session, row, "action_snoozed", actor=actor, now=now, days=days, until=iso(point.at))
    await session.commit()
    return Change(row), point.at
