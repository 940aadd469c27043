"""What happens in an incident channel, as typed values, and how it enters the chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import chain
from bot.incidents import by_channel
from storage.models import Incident, ProcessedEvent, TimelineEntry


@dataclass(frozen=True)
class Posted:
    """A message or thread reply (with its files) appeared in a channel."""

    channel: str
    user: str | None
    ts: str
    text: str
    thread_ts: str | None = None
    files: tuple[dict[str, Any], ...] = ()
    permalink: str | None = None
    bot: bool = False


@dataclass(frozen=True)
class Edited:
    """A message was edited."""

    channel: str
    user: str | None
    ts: str
    text: str
    edited_ts: str | None = None


@dataclass(frozen=True)
class Deleted:
    """A message was deleted."""

    channel: str
    ts: str
    user: str | None = None


@dataclass(frozen=True)
class Marked:
    """A message was marked as a key event (pinned, or a configured reaction)."""

    channel: str
    user: str | None
    ts: str
    how: str


Happening = Posted | Edited | Deleted | Marked


@dataclass
class IngestResult:
    """What ingesting one delivery did."""

    duplicate: bool = False
    entries: list[TimelineEntry] = field(default_factory=list)
    incident_id: int | None = None


async def claim_event(session: AsyncSession, team_id: str, event_id: str, now: datetime) -> bool:
    """Insert the delivery's key; False if it was already processed (another delivery or replica got it)."""
    values = {"team_id": team_id, "event_id": event_id, "received_at": now}
    table = ProcessedEvent.__table__  # type: ignore[attr-defined]
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        stmt: Any = pg_insert(table).values(values).on_conflict_do_nothing().returning(table.c.id)
    else:
        stmt = sqlite_insert(table).values(values).on_conflict_do_nothing().returning(table.c.id)
    result = await session.execute(stmt)
    return result.first() is not None


async def find_message(session: AsyncSession, incident_id: int, ts: str) -> TimelineEntry | None:
    """The entry recording the original message with this Slack ts."""
    rows = await session.exec(select(TimelineEntry).where(
        TimelineEntry.incident_id == incident_id, TimelineEntry.slack_ts == ts,
        col(TimelineEntry.kind).in_(("message", "bot_message"))).limit(1))
    return rows.first()


async def record(session: AsyncSession, incident: Incident, what: Happening, now: datetime) -> TimelineEntry:
    """Append one happening to the incident's chain (caller commits)."""
    assert incident.id is not None
    if isinstance(what, Posted):
        files = [dict(f) for f in what.files]
        return await chain.append(
            session, incident_id=incident.id, kind="bot_message" if what.bot else "message", at=now,
            actor=what.user, text=what.text, slack_ts=what.ts, thread_ts=what.thread_ts,
            data={k: v for k, v in (("files", files), ("permalink", what.permalink)) if v})
    original = await find_message(session, incident.id, what.ts)
    ref = original.seq if original else None
    if isinstance(what, Edited):
        return await chain.append(session, incident_id=incident.id, kind="message_edited", at=now, actor=what.user,
                                  text=what.text, slack_ts=what.ts, refers_to=ref,
                                  data={"edited_ts": what.edited_ts} if what.edited_ts else {})
    if isinstance(what, Deleted):
        return await chain.append(session, incident_id=incident.id, kind="message_deleted", at=now,
                                  actor=what.user, slack_ts=what.ts, refers_to=ref)
    return await chain.append(session, incident_id=incident.id, kind="key_event_marked", at=now, actor=what.user,
                              slack_ts=what.ts, refers_to=ref, key_event=True, data={"how": what.how})


async def ingest(session: AsyncSession, *, team_id: str, event_id: str | None, what: Happening | None,
                 now: datetime) -> IngestResult:
    """De-duplicate a delivery and record it in the same transaction; commits. Exactly once per event_id."""
    if event_id is not None and not await claim_event(session, team_id, event_id, now):
        await session.rollback()
        return IngestResult(duplicate=True)
    result = IngestResult()
    if what is not None:
        incident = await by_channel(session, team_id, what.channel)
        if incident is not None:
            result.incident_id = incident.id
            result.entries.append(await record(session, incident, what, now))
    await session.commit()
    return result


async def add_note(session: AsyncSession, *, incident: Incident, text: str, actor: str,
                   now: datetime) -> TimelineEntry:
    """An explicit key event typed with `/retro note`; commits."""
    assert incident.id is not None
    entry = await chain.append(session, incident_id=incident.id, kind="note", at=now, actor=actor, text=text,
                               key_event=True)
    await session.commit()
    return entry


async def record_bot_post(session: AsyncSession, *, incident: Incident, ts: str, text: str, thread_ts: str | None,
                          now: datetime, bot_user: str | None) -> TimelineEntry:
    """The bot's own post (Slack does not echo it back to us); commits."""
    entry = await record(session, incident, Posted(incident.channel_id, bot_user, ts, text, thread_ts, bot=True), now)
    await session.commit()
    return entry


async def entries(session: AsyncSession, incident_id: int, *, key_only: bool) -> list[TimelineEntry]:
    """Entries in order; key events are those flagged or marked afterwards."""
    every = await chain.entries_of(session, incident_id)
    if not key_only:
        return every
    marked = {e.refers_to for e in every if e.kind == "key_event_marked"}
    return [e for e in every if (e.key_event and e.kind != "key_event_marked") or e.seq in marked]
