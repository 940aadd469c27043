"""What happens in an incident channel, as typed values, and how it enters the chain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.record import chain
from storage.core import table_of
from storage.direct import SessionStatements, Statements
from storage.models import Incident, TimelineEntry


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

# Entries whose text is Slack's own message text, kept (and hashed) exactly as Slack sent it: entity-escaped.
# Every other entry holds text already decoded where it came in (commands) or never escaped (modal input).
SLACK_TEXT_KINDS = frozenset({"message", "bot_message", "message_edited"})
_SLACK_PIECE = re.compile(r"(<[^<>]*>)|&(amp|lt|gt);")
_ENTITY_CHAR = {"amp": "&", "lt": "<", "gt": ">"}


def unescape_slack(text: str) -> str:
    """Slack's text as people read it: `&amp;` `&lt;` `&gt;` decoded once, Slack's `<…>` markup kept as sent."""
    return _SLACK_PIECE.sub(lambda m: m.group(1) or _ENTITY_CHAR[m.group(2)], text)


def readable_text(kind: str, text: str | None) -> str | None:
    """An entry's text as people read it (what the chain commits to is the stored text, unchanged)."""
    return unescape_slack(text) if text and kind in SLACK_TEXT_KINDS else text


def new_entry(what: Happening, now: datetime) -> chain.NewEntry:
    """The chain entry for a happening; edits, deletions and marks get `refers_to` from a resolver."""
    if isinstance(what, Posted):
        files = [dict(f) for f in what.files]
        return chain.NewEntry("bot_message" if what.bot else "message", now, what.user, what.text, what.ts,
                              what.thread_ts,
                              data={k: v for k, v in (("files", files), ("permalink", what.permalink)) if v})
    if isinstance(what, Edited):
        return chain.NewEntry("message_edited", now, what.user, what.text, what.ts,
                              data={"edited_ts": what.edited_ts} if what.edited_ts else {})
    if isinstance(what, Deleted):
        return chain.NewEntry("message_deleted", now, what.user, slack_ts=what.ts)
    return chain.NewEntry("key_event_marked", now, what.user, slack_ts=what.ts, key_event=True,
                          data={"how": what.how})


_ENTRY = table_of(TimelineEntry)
_ORIGINAL = (select(_ENTRY.c.seq)
             .where(_ENTRY.c.incident_id == bindparam("incident_id"), _ENTRY.c.slack_ts == bindparam("ts"),
                    or_(_ENTRY.c.kind == "message", _ENTRY.c.kind == "bot_message"))
             .order_by(_ENTRY.c.seq).limit(1))


def original_resolver(st: Statements, incident_id: int) -> chain.Resolver:
    """Point edits, deletions and marks at the message they concern (earlier in the batch, or stored)."""

    async def resolve(item: chain.NewEntry, earlier: list[chain.Chained]) -> None:
        if item.kind not in ("message_edited", "message_deleted", "key_event_marked") or item.slack_ts is None:
            return
        local = next((e for e in reversed(earlier) if e.slack_ts == item.slack_ts
                      and e.kind in ("message", "bot_message")), None)
        if local is not None:
            item.refers_to = local.seq
            return
        stored = await st.rows(_ORIGINAL, {"incident_id": incident_id, "ts": item.slack_ts})
        item.refers_to = int(stored[0][0]) if stored else None

    return resolve


async def record(session: AsyncSession, incident: Incident, what: Happening, now: datetime) -> chain.Chained:
    """Append one happening to the incident's chain (caller commits)."""
    assert incident.id is not None
    made = await chain.append_many(session, incident.id, [new_entry(what, now)],
                                   resolve=original_resolver(SessionStatements(session), incident.id))
    return made[0]


def note_entry(*, text: str, actor: str, now: datetime, at: datetime | None = None,
               after_close: bool = False) -> chain.NewEntry:
    """An explicit key event typed with `/retro note` (`at`: when it happened, when that was given; `after_close`:
    added while the incident was closed, which the entry says)."""
    return chain.NewEntry("note", now, actor, text, key_event=True, occurred_at=at,
                          data={"after_close": True} if after_close else {})


async def add_note(session: AsyncSession, *, incident: Incident, text: str, actor: str,
                   now: datetime, at: datetime | None = None) -> chain.Chained:
    """`note_entry` appended in a session of its own; commits."""
    assert incident.id is not None
    made = await chain.append_many(session, incident.id, [note_entry(text=text, actor=actor, now=now, at=at,
                                                                     after_close=incident.status == "closed")])
    await session.commit()
    return made[0]


async def record_bot_post(session: AsyncSession, *, incident: Incident, ts: str, text: str, thread_ts: str | None,
                          now: datetime, bot_user: str | None) -> chain.Chained:
    """The bot's own post, recorded when posted (its echo as an event is skipped), marked `retro: true` (the
    postmortem leaves Retro's announcements out of its log); commits."""
    assert incident.id is not None
    item = new_entry(Posted(incident.channel_id, bot_user, ts, text, thread_ts, bot=True), now)
    item.data = {**item.data, "retro": True}
    (entry,) = await chain.append_many(session, incident.id, [item])
    await session.commit()
    return entry


def _for_reading(entry: TimelineEntry) -> TimelineEntry:
    shown = readable_text(entry.kind, entry.text)
    if shown == entry.text:
        return entry
    # A detached copy: the stored row keeps Slack's text, which its hash commits to.
    return TimelineEntry.model_validate({**entry.model_dump(), "text": shown})


async def entries(session: AsyncSession, incident_id: int, *, key_only: bool) -> list[TimelineEntry]:
    """Entries in the order things happened (chain order among equals), their text as people read it (for display
    only); key events are those flagged or marked afterwards."""
    every = await chain.entries_of(session, incident_id)
    if key_only:
        marked = {e.refers_to for e in every if e.kind == "key_event_marked"}
        every = [e for e in every if (e.key_event and e.kind != "key_event_marked") or e.seq in marked]
    return [_for_reading(e) for e in sorted(every, key=lambda e: (chain.happened_at(e), e.seq))]
