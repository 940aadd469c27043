"""Group commit for Events API deliveries: de-duplicate and record many events per transaction.

Each delivery waits for the commit that contains it before Slack gets its 200, so an acked event is never lost;
batching only changes how many deliveries share one transaction. On SQLite the single writer task also removes
lock contention between concurrent requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import chain
from bot.timeline import Happening, new_entry, original_resolver
from storage.models import Incident, ProcessedEvent

log = logging.getLogger("retro.ingest")
MAX_BATCH = 256


@dataclass
class IngestResult:
    """What ingesting one delivery did."""

    duplicate: bool = False
    entries: list[chain.Chained] = field(default_factory=list)
    incident_id: int | None = None


@dataclass
class _Item:
    team_id: str
    event_id: str | None
    what: Happening | None
    now: datetime
    done: asyncio.Future[IngestResult]


_EVENTS = ProcessedEvent.__table__  # type: ignore[attr-defined]
# executemany form, built once per dialect: one cached compiled statement whatever the batch size (rows that
# conflict return nothing).
_CLAIM = {name: insert(_EVENTS).on_conflict_do_nothing().returning(_EVENTS.c.team_id, _EVENTS.c.event_id)
          for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}


async def _claim(session: AsyncSession, items: list[_Item]) -> set[tuple[str, str]]:
    """Insert every delivery key of the batch; return the keys this transaction won."""
    rows = [{"team_id": i.team_id, "event_id": i.event_id, "received_at": i.now} for i in items if i.event_id]
    if not rows:
        return set()
    conn = await session.connection()  # Core on the connection: the ORM's execute path costs more than the insert
    return {(str(t), str(e)) for t, e in (await conn.execute(_CLAIM[conn.dialect.name], rows)).all()}


async def _incidents(session: AsyncSession, items: list[_Item],
                     known: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """(team, channel) -> incident id for the channels the batch touches.

    Only hits are remembered: a channel seen before its incident row was committed must be looked up again.
    """
    keys = {(i.team_id, i.what.channel) for i in items if i.what is not None}
    missing = {k for k in keys if k not in known}
    if missing:
        rows = await session.exec(select(Incident.id, Incident.team_id, Incident.channel_id)
                                  .where(col(Incident.channel_id).in_({c for _, c in missing})))
        for i, t, c in rows.all():
            if (t, c) in missing and i is not None:
                known[(t, c)] = int(i)
    return {k: known[k] for k in keys if k in known}


async def process_batch(session: AsyncSession, items: list[_Item],
                        known: dict[tuple[str, str], int] | None = None) -> list[IngestResult]:
    """One transaction for the whole batch: claim keys, record happenings per incident in order; commits."""
    won = await _claim(session, items)
    results = [IngestResult() for _ in items]
    taken: set[tuple[str, str]] = set()
    for item, result in zip(items, results, strict=True):
        if item.event_id is not None:
            key = (item.team_id, item.event_id)
            result.duplicate = key not in won or key in taken
            taken.add(key)
    where = await _incidents(session, items, {} if known is None else known)
    by_incident: dict[int, list[int]] = {}
    for n, item in enumerate(items):
        if item.what is None or results[n].duplicate:
            continue
        incident_id = where.get((item.team_id, item.what.channel))
        if incident_id is not None:
            results[n].incident_id = incident_id
            by_incident.setdefault(incident_id, []).append(n)
    for incident_id, idx in sorted(by_incident.items()):  # fixed order: no lock-order deadlocks between replicas
        batch = [new_entry(what, items[n].now) for n in idx if (what := items[n].what) is not None]
        made = await chain.append_many(session, incident_id, batch, resolve=original_resolver(session, incident_id))
        for n, entry in zip(idx, made, strict=True):
            results[n].entries.append(entry)
    await session.commit()
    return results


class IngestQueue:
    """A single writer task per process that drains all waiting deliveries into one transaction."""

    def __init__(self, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self._sessions = sessions
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[tuple[str, str], int] = {}

    async def submit(self, *, team_id: str, event_id: str | None, what: Happening | None,
                     now: datetime) -> IngestResult:
        """Record one delivery; returns after the commit that holds it (or raises what the commit raised)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="retro-ingest")
        done: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(team_id, event_id, what, now, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            started = time.perf_counter()
            try:
                async with self._sessions() as session:
                    results = await process_batch(session, batch, self._channels)
            except Exception as exc:  # every waiter learns of the failure; Slack will deliver again
                log.warning("ingest batch of %d failed: %s", len(batch), type(exc).__name__)
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
                continue
            if log.isEnabledFor(logging.DEBUG):
                elapsed_ms = round((time.perf_counter() - started) * 1e3, 2)
                log.debug("ingest batch", extra={"size": len(batch), "ms": elapsed_ms})
            for item, result in zip(batch, results, strict=True):
                if not item.done.done():
                    item.done.set_result(result)

    async def close(self) -> None:
        """Stop the writer once everything queued has been committed."""
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
