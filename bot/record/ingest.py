"""Group commit for Events API deliveries (and notes): de-duplicate and record many events per transaction.

Each delivery waits for the commit that contains it before Slack gets its 200, so an acked event is never lost;
batching only changes how many deliveries share one transaction. On SQLite the single writer task also removes
lock contention between concurrent requests. The writer runs its statements straight on the driver connection
(`storage.direct`): this is the path every message in an incident channel takes. A batch the database refuses
(a value or a constraint, not an outage) is written again one delivery at a time, so one poisonous event fails
alone, answered so that Slack stops sending it, while the others of its batch are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from bot.errors import RetroError
from bot.record import chain, pending_files
from bot.record.timeline import Happening, new_entry, original_resolver
from storage.core import conflict_insert, table_of
from storage.direct import DirectWriter, Statements, is_refusal
from storage.models import Incident, ProcessedEvent

log = logging.getLogger("retro.ingest")
MAX_BATCH = 256


class WriterClosed(ConnectionError):
    """The process is shutting down: nothing was recorded (Slack delivers the event again; a person retries)."""


class NotRecorded(RetroError):
    """The database refused an entry typed by someone, on its own: nothing was saved, and retrying cannot help."""


@dataclass
class IngestResult:
    """What ingesting one delivery did."""

    duplicate: bool = False
    entries: list[chain.Chained] = field(default_factory=list)
    incident_id: int | None = None
    refused: str | None = None  # why the database refused this delivery on its own (nothing of it was recorded)


@dataclass
class _Item:
    team_id: str
    event_id: str | None
    what: Happening | None
    now: datetime
    done: asyncio.Future[IngestResult]
    direct: tuple[str, chain.NewEntry] | None = None  # (channel, entry): typed by someone (a note), not a happening

    @property
    def channel(self) -> str | None:
        """The channel whose incident this item goes to."""
        return self.direct[0] if self.direct is not None else self.what.channel if self.what is not None else None


_EVENTS = table_of(ProcessedEvent)
_INCIDENTS = table_of(Incident)
_CHANNEL = (select(_INCIDENTS.c.id, _INCIDENTS.c.team_id)
            .where(_INCIDENTS.c.channel_id == bindparam("channel")))
_claims: dict[tuple[str, int], Executable] = {}


def _claim_statement(dialect: str, n: int) -> Executable:
    """INSERT … VALUES (…) × n ON CONFLICT DO NOTHING RETURNING the keys won; built once per dialect and size."""
    stmt = _claims.get((dialect, n))
    if stmt is None:
        c = _EVENTS.c
        values = [{"team_id": bindparam(f"t{i}", type_=c.team_id.type),
                   "event_id": bindparam(f"e{i}", type_=c.event_id.type),
                   "received_at": bindparam(f"r{i}", type_=c.received_at.type)} for i in range(n)]
        insert = conflict_insert(dialect, _EVENTS)
        stmt = _claims[(dialect, n)] = insert.values(values).on_conflict_do_nothing().returning(c.team_id, c.event_id)
    return stmt


async def _claim(st: Statements, items: list[_Item]) -> set[tuple[str, str]]:
    """Insert every delivery key of the batch; return the keys this transaction won."""
    keyed = [i for i in items if i.event_id]
    if not keyed:
        return set()
    params: dict[str, object] = {}
    for n, item in enumerate(keyed):
        params.update({f"t{n}": item.team_id, f"e{n}": item.event_id, f"r{n}": item.now})
    return {(str(t), str(e)) for t, e in await st.rows(_claim_statement(st.dialect, len(keyed)), params)}


async def _incidents(st: Statements, items: list[_Item],
                     known: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """(team, channel) -> incident id for the channels the batch touches.

    Only hits are remembered: a channel seen before its incident row was committed must be looked up again.
    """
    keys = {(i.team_id, c) for i in items if (c := i.channel) is not None}
    for team, channel in sorted(keys - known.keys()):
        for incident_id, incident_team in await st.rows(_CHANNEL, {"channel": channel}):
            if incident_team == team:
                known[(team, channel)] = int(incident_id)
    return {k: known[k] for k in keys if k in known}


async def process_batch(st: Statements, items: list[_Item],
                        known: dict[tuple[str, str], int] | None = None) -> list[IngestResult]:
    """The whole batch in the caller's transaction: claim keys, record happenings per incident in order."""
    won = await _claim(st, items)
    results = [IngestResult() for _ in items]
    taken: set[tuple[str, str]] = set()
    for item, result in zip(items, results, strict=True):
        if item.event_id is not None:
            key = (item.team_id, item.event_id)
            result.duplicate = key not in won or key in taken
            taken.add(key)
    where = await _incidents(st, items, {} if known is None else known)
    by_incident: dict[int, list[tuple[int, chain.NewEntry]]] = {}
    for n, item in enumerate(items):
        if results[n].duplicate:
            continue
        found = where.get((item.team_id, item.channel or ""))
        if found is None:
            continue
        if item.direct is not None:
            entry = item.direct[1]
        elif item.what is not None:
            entry = new_entry(item.what, item.now)
        else:
            continue
        results[n].incident_id = found
        by_incident.setdefault(found, []).append((n, entry))
    for incident_id, todo in sorted(by_incident.items()):  # fixed order: no lock-order deadlocks between replicas
        made, _ = await chain.append_with(st, incident_id, [entry for _, entry in todo],
                                          resolve=original_resolver(st, incident_id))
        for (n, _), chained in zip(todo, made, strict=True):
            results[n].entries.append(chained)
    # Files a recorded message shared are owed a digest: the rows commit with the message (bot.record.pending_files).
    await pending_files.add(st, [row for item, result in zip(items, results, strict=True) if result.incident_id
                                 for row in pending_files.rows_for(item.team_id, result.incident_id, item.what,
                                                                   item.now)])
    return results


class IngestQueue:
    """A single writer task per process that drains all waiting deliveries into one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._writer = DirectWriter(engine)
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()  # None: stop after what is queued
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[tuple[str, str], int] = {}
        self.writing = 0  # deliveries in the batch being written now

    @property
    def waiting(self) -> int:
        """Deliveries queued behind the batch being written."""
        return self._queue.qsize()

    async def submit(self, *, team_id: str, event_id: str | None, what: Happening | None,
                     now: datetime) -> IngestResult:
        """Record one delivery; returns after the commit that holds it (or raises what the commit raised)."""
        return await self._enqueue(team_id, event_id, what, now, None)

    async def append(self, *, team_id: str, channel: str, entry: chain.NewEntry,
                     now: datetime) -> chain.Chained | None:
        """Chain an entry typed in a channel to that channel's incident, through the same writer as its events
        (no write-lock contention on SQLite); None when the channel has no incident."""
        result = await self._enqueue(team_id, None, None, now, (channel, entry))
        return result.entries[0] if result.entries else None

    async def _enqueue(self, team_id: str, event_id: str | None, what: Happening | None, now: datetime,
                       direct: tuple[str, chain.NewEntry] | None) -> IngestResult:
        if self._closed:
            raise WriterClosed("the ingest writer has stopped")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="retro-ingest")
        done: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(team_id, event_id, what, now, done, direct))
        return await done

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:  # close(): everything queued before it has been written
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self.writing = len(batch)
            try:
                await self._write(batch)
            finally:
                self.writing = 0
            if stop:
                return
            if self._queue.empty():  # idle: give the connection back (a busy writer keeps it between batches)
                await self._writer.release()

    async def _write(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            await self._commit(batch)
        except BaseException:  # stopped mid-write: whoever still waits learns that nothing of theirs was recorded
            _fail(batch, WriterClosed("the ingest writer was stopped"))
            raise
        if log.isEnabledFor(logging.DEBUG):
            elapsed_ms = round((time.perf_counter() - started) * 1e3, 2)
            log.debug("ingest batch", extra={"size": len(batch), "ms": elapsed_ms})

    async def _commit(self, batch: list[_Item]) -> Exception | None:
        """The batch in one transaction; returns the failure when the database could not be used (an outage).

        When the database refuses something in a batch (a value it cannot hold, a constraint), each delivery is
        written again in a transaction of its own, in order, so that one poisonous event fails alone.
        """
        try:
            async with self._writer.transaction() as st:
                results = await process_batch(st, batch, self._channels)
        except Exception as exc:
            if not is_refusal(exc):  # every waiter learns of the outage; Slack will deliver again
                log.warning("ingest batch of %d failed: %s", len(batch), type(exc).__name__)
                _fail(batch, exc)
                return exc
            if len(batch) == 1:
                self._refuse(batch[0], exc)
                return None
            log.warning("ingest batch of %d refused (%s); writing its deliveries one by one", len(batch),
                        type(exc).__name__)
            for n, item in enumerate(batch):
                outage = await self._commit([item])
                if outage is not None:  # the database went away meanwhile: the rest fails as its batch would have
                    _fail(batch[n + 1:], outage)
                    return outage
            return None
        for item, result in zip(batch, results, strict=True):
            if not item.done.done():
                item.done.set_result(result)
        return None

    @staticmethod
    def _refuse(item: _Item, exc: Exception) -> None:
        """One delivery the database refused on its own: it would be refused again, however often it is sent."""
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = f"{type(exc).__name__}: {' '.join(str(cause).split())}"[:300]
        if item.direct is not None:  # typed by a person, who is told
            log.warning("entry typed in %r not recorded: %s", item.channel, reason)
            item.done.set_exception(NotRecorded(f"This could not be recorded: the database refused it ({reason}). "
                                                "Nothing was saved."))
            return
        log.error("event %r of team %r not recorded: the database refused it: %s", item.event_id, item.team_id, reason)
        item.done.set_result(IngestResult(refused=reason))

    async def close(self, timeout: float = 10.0) -> None:
        """Refuse new work, write everything already queued, then stop the writer and give its connection back."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            await self._queue.put(None)
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                log.warning("ingest writer did not finish within %.0f s; stopping it", timeout)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while not self._queue.empty():  # whatever raced in behind the stop marker
            item = self._queue.get_nowait()
            if item is not None and not item.done.done():
                item.done.set_exception(WriterClosed("the ingest writer has stopped"))
        await self._writer.release()


def _fail(items: list[_Item], exc: Exception) -> None:
    """Every item still waiting learns of the failure."""
    for item in items:
        if not item.done.done():
            item.done.set_exception(exc)
