"""The per-incident hash chain: atomic appends and verification."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import chain_hash, iso, sha256_hex
from storage.core import table_of
from storage.direct import SessionStatements, Statements
from storage.models import GENESIS_HASH, Incident, TimelineEntry
from storage.safetext import original, storable


def entry_payload(entry: TimelineEntry | Chained) -> dict[str, Any]:
    """What the chain commits to. Message text enters through its digest so it can be purged later.

    `at` is when the entry was recorded; `occurred_at`, when what it records happened, is committed to only when
    the entry has one (given with `at=` and not the recording time), so every entry chained before it existed keeps
    its hash.
    """
    payload = {
        "seq": entry.seq,
        "at": iso(entry.at),
        "kind": entry.kind,
        "actor": entry.actor,
        "slack_ts": entry.slack_ts,
        "thread_ts": entry.thread_ts,
        "refers_to": entry.refers_to,
        "key_event": entry.key_event,
        "text_sha256": entry.text_sha256,
        "data": entry.data,
    }
    if entry.occurred_at is not None:
        payload["occurred_at"] = iso(entry.occurred_at)
    return payload


def happened_at(entry: TimelineEntry | Chained) -> datetime:
    """When what the entry records happened: its `occurred_at`, else when it was recorded."""
    return entry.occurred_at or entry.at


async def bump_counter(session: AsyncSession, incident_id: int, column: str) -> int:
    """Atomically increment one of the incident's counters and return the new value (locks the row)."""
    counter = getattr(Incident, column)
    result = await session.exec(
        update(Incident).where(col(Incident.id) == incident_id).values({column: counter + 1}).returning(counter)
    )
    value = result.scalar_one()
    assert isinstance(value, int)
    return value


@dataclass
class NewEntry:
    """An entry about to be chained; `refers_to` may be filled in by a resolver that sees earlier entries."""

    kind: str
    at: datetime
    actor: str | None = None
    text: str | None = None
    slack_ts: str | None = None
    thread_ts: str | None = None
    refers_to: int | None = None
    key_event: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


@dataclass(slots=True)
class Chained:
    """A freshly chained entry, as written (the same fields as a stored TimelineEntry)."""

    incident_id: int
    seq: int
    at: datetime
    kind: str
    actor: str | None
    slack_ts: str | None
    thread_ts: str | None
    refers_to: int | None
    key_event: bool
    text: str | None
    text_sha256: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str
    occurred_at: datetime | None = None


Resolver = Callable[[NewEntry, list[Chained]], Awaitable[None]]


class Head(NamedTuple):
    """An incident's chain after an append: entry count, head hash, time of the last entry."""

    entries: int
    hash: str
    at: datetime | None


_INCIDENT = table_of(Incident)
_ENTRY = table_of(TimelineEntry)
# Built once: compiled once per dialect, whether run through a session or straight on the driver.
_RESERVE = (update(_INCIDENT).where(_INCIDENT.c.id == bindparam("incident_id"))
            .values(entry_count=_INCIDENT.c.entry_count + bindparam("count"))
            .returning(_INCIDENT.c.entry_count, _INCIDENT.c.head_hash, _INCIDENT.c.last_entry_at, _INCIDENT.c.team_id))
_INSERT = insert(_ENTRY)
_ADVANCE = (update(_INCIDENT).where(_INCIDENT.c.id == bindparam("incident_id"))
            .values(head_hash=bindparam("head_hash"), last_entry_at=bindparam("last_entry_at")))


async def append_with(st: Statements, incident_id: int, items: list[NewEntry], *,
                      resolve: Resolver | None = None) -> tuple[list[Chained], Head]:
    """Append entries in order inside the caller's transaction (the caller commits); returns them and the new head.

    The first statement is an UPDATE of the incident row reserving all the sequence numbers at once; it
    serialises concurrent appenders on PostgreSQL (row lock) and SQLite (write lock) before the chain head is
    read. Recording times never run backwards along the chain: an entry observed a moment before the one that won
    the lock takes that entry's time. When it happened (`occurred_at`) is free, and kept only when it differs from
    the recording time.
    """
    reserved = await st.rows(_RESERVE, {"incident_id": incident_id, "count": len(items)})
    if not reserved:
        raise LookupError(f"incident {incident_id} does not exist")
    last_seq, prev_hash, last_at, team_id = reserved[0]
    made: list[Chained] = []
    for seq, item in enumerate(items, start=last_seq - len(items) + 1):
        if resolve is not None:
            await resolve(item, made)
        at = item.at if last_at is None or item.at >= last_at else last_at
        # The digest is over the text as it arrived; the row holds the form the database can hold (storage.safetext).
        entry = Chained(incident_id, seq, at, item.kind, item.actor, item.slack_ts, item.thread_ts, item.refers_to,
                        item.key_event, storable(item.text), None if item.text is None else sha256_hex(item.text),
                        item.data, prev_hash, "", None if item.occurred_at == at else item.occurred_at)
        entry.hash = chain_hash(prev_hash, entry_payload(entry))
        prev_hash, last_at = entry.hash, at
        made.append(entry)
    await st.run_many(_INSERT, [{**_row(e), "team_id": team_id} for e in made])
    await st.rows(_ADVANCE, {"incident_id": incident_id, "head_hash": prev_hash, "last_entry_at": last_at})
    return made, Head(last_seq, prev_hash, last_at)


async def append_many(session: AsyncSession, incident_id: int, items: list[NewEntry], *,
                      resolve: Resolver | None = None) -> list[Chained]:
    """`append_with` on an ORM session, keeping an Incident loaded in the session in step with its row."""
    if session.new or session.dirty or session.deleted:  # pending ORM changes first, as autoflush would
        await session.flush()
    made, head = await append_with(SessionStatements(session), incident_id, items, resolve=resolve)
    _sync_loaded(session, incident_id, entry_count=head.entries, head_hash=head.hash, last_entry_at=head.at)
    return made


def _sync_loaded(session: AsyncSession, incident_id: int, **values: Any) -> None:
    """Keep an Incident already loaded in this session in step with its row (the ORM's own UPDATE did this)."""
    loaded = session.sync_session.identity_map.get(identity_key(Incident, incident_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


_COLUMNS = ("incident_id", "seq", "at", "kind", "actor", "slack_ts", "thread_ts", "refers_to", "key_event", "text",
            "text_sha256", "data", "prev_hash", "hash", "occurred_at")


def _row(entry: Chained) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _COLUMNS}


async def append(session: AsyncSession, *, incident_id: int, kind: str, at: datetime, actor: str | None = None,
                 text: str | None = None, slack_ts: str | None = None, thread_ts: str | None = None,
                 refers_to: int | None = None, key_event: bool = False, data: dict[str, Any] | None = None,
                 occurred_at: datetime | None = None) -> Chained:
    """Append one entry to the incident's chain inside the caller's transaction (the caller commits); `at` is the
    recording time, `occurred_at` when it happened if that was given."""
    item = NewEntry(kind, at, actor, text, slack_ts, thread_ts, refers_to, key_event, data or {}, occurred_at)
    return (await append_many(session, incident_id, [item]))[0]


@dataclass(frozen=True)
class ChainReport:
    """The outcome of recomputing a chain."""

    ok: bool
    count: int
    head: str
    bad_seq: int | None = None
    reason: str = ""


def text_matches(stored: str, digest: str | None) -> bool:
    """Whether stored text is the text `digest` was taken over: as it is, or once its NUL escape is undone."""
    return digest == sha256_hex(stored) or ("%" in stored and digest == sha256_hex(original(stored)))


def verify_entries(entries: Iterable[TimelineEntry], *, expected_head: str | None = None,
                   expected_count: int | None = None) -> ChainReport:
    """Recompute the chain in order and name the first entry that does not match."""
    running = GENESIS_HASH
    count = 0
    for count, entry in enumerate(entries, start=1):
        if entry.seq != count:
            return ChainReport(False, count - 1, running, entry.seq, f"gap: expected entry {count}, found {entry.seq}")
        if entry.text is not None and not text_matches(entry.text, entry.text_sha256):
            return ChainReport(False, count - 1, running, entry.seq, "text does not match its recorded digest")
        if entry.prev_hash != running:
            return ChainReport(False, count - 1, running, entry.seq, "previous-hash link is broken")
        recomputed = chain_hash(running, entry_payload(entry))
        if recomputed != entry.hash:
            return ChainReport(False, count - 1, running, entry.seq, "content does not match its hash")
        running = recomputed
    if expected_count is not None and expected_count != count:
        return ChainReport(False, count, running, count + 1,
                           f"incident records {expected_count} entries, found {count}")
    if expected_head is not None and expected_head != running:
        return ChainReport(False, count, running, count, "chain head differs from the incident's recorded head")
    return ChainReport(True, count, running)


async def entries_of(session: AsyncSession, incident_id: int) -> list[TimelineEntry]:
    """Every entry of an incident in chain order."""
    rows = await session.exec(
        select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(col(TimelineEntry.seq))
    )
    return list(rows.all())


STABLE_READS = 20


async def verify_incident(session: AsyncSession, incident: Incident) -> ChainReport:
    """Recompute an incident's chain from the database.

    A live incident may gain entries while it is read, so the entries and the incident's count and head are
    re-read until they describe the same moment; a difference that persists is reported, never waved through.
    """
    assert incident.id is not None
    for attempt in range(STABLE_READS):
        entries = await entries_of(session, incident.id)
        fresh = await session.get(Incident, incident.id, populate_existing=True)
        assert fresh is not None
        if fresh.entry_count == len(entries) or attempt == STABLE_READS - 1:
            break
        await asyncio.sleep(0.05)
    assert fresh is not None
    return verify_entries(entries, expected_head=fresh.head_hash, expected_count=fresh.entry_count)
