"""Pending file hashes: written with the message in the ingest writer's transaction, claimed like reminders, finished
by one process only (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col, select

from bot.catalog import load_catalog
from bot.incident import incidents
from bot.record import pending_files
from bot.record.ingest import _Item, process_batch
from bot.record.timeline import Posted
from storage.db import create_engine, session_factory
from storage.direct import DirectWriter
from storage.models import Incident, PendingFileHash, ProcessedEvent

T0 = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


@dataclass
class World:
    """A migrated database with one incident in channel C1."""

    engine: AsyncEngine
    incident: Incident


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    engine = create_engine(database_url)
    async with session_factory(engine)() as s:
        decl = incidents.validate_declaration(load_catalog(), title="Files", severity=2, category="data-drift")
        incident = await incidents.create(s, team_id="T1", decl=decl, declared_by="U1", declared_in="C0",
                                          channel_id="C1", channel_name="inc-files", now=T0)
    try:
        yield World(engine, incident)
    finally:
        await engine.dispose()


def posted(ts: str, *ids: str, channel: str = "C1") -> Posted:
    return Posted(channel, "U0ALICE", ts, "see attached", files=tuple({"id": i, "name": f"{i}.csv"} for i in ids))


async def ingest(w: World, *items: tuple[str, Posted], fail: bool = False) -> None:
    writer = DirectWriter(w.engine)
    try:
        async with writer.transaction() as st:
            await process_batch(st, [_Item("T1", event_id, what, T0, asyncio.get_running_loop().create_future())
                                     for event_id, what in items])
            if fail:
                raise RuntimeError("the transaction fails after the batch")
    finally:
        await writer.release()


async def rows(w: World) -> list[PendingFileHash]:
    async with session_factory(w.engine)() as s:
        return list((await s.exec(select(PendingFileHash).order_by(col(PendingFileHash.id)))).all())


async def test_the_ingest_writer_owes_one_row_per_file_in_the_events_transaction(world: World) -> None:
    with pytest.raises(RuntimeError):
        await ingest(world, ("Ev1", posted("1.000001", "F0AAAAAA1")), fail=True)
    assert await rows(world) == []  # rolled back with the event
    await ingest(world, ("Ev1", posted("1.000001", "F0AAAAAA1", "F0AAAAAA2", "F0AAAAAA1")),
                 ("Ev2", posted("1.000002", "F0BBBBBB1", channel="C9")),  # no incident there
                 ("Ev3", posted("1.000003", "not-a-file", "F" + "X" * 40)))  # forged ids are dropped, not fatal
    await ingest(world, ("Ev1", posted("1.000001", "F0AAAAAA1")))  # Slack's retry of Ev1
    found = await rows(world)
    assert [(r.file_id, r.message_ts, r.user_id, r.status) for r in found] == [
        ("F0AAAAAA1", "1.000001", "U0ALICE", "pending"), ("F0AAAAAA2", "1.000001", "U0ALICE", "pending")]
    assert all(r.team_id == "T1" and r.incident_id == world.incident.id and r.due_at == T0 + pending_files.GRACE
               for r in found)
    async with session_factory(world.engine)() as s:
        assert len((await s.exec(select(ProcessedEvent))).all()) == 3
    assert pending_files.rows_for("T1", 1, posted("9" * 40, "F0CCCCCC1"), T0) == []  # no row a column cannot hold


async def test_claims_leave_the_listener_its_grace_and_take_over_what_a_dead_process_left(world: World) -> None:
    await ingest(world, ("Ev1", posted("1.000001", "F0AAAAAA1", "F0AAAAAA2")))
    factory = session_factory(world.engine)
    soon = T0 + timedelta(seconds=30)
    async with factory() as s:
        assert await pending_files.claim(s, worker="w1", now=soon, lease=LEASE, limit=10) == []
    async with factory() as s:
        (first,) = await pending_files.claim(s, worker="w1", now=soon, lease=LEASE, limit=1, every=True)
    assert first.status == "claimed" and first.claimed_by == "w1" and first.attempts == 0
    async with factory() as s:  # the listener finds only the unclaimed row, and cannot finish the claimed one
        assert [r.file_id for r in await pending_files.waiting(s, incident_id=world.incident.id or 0,
                                                               message_ts="1.000001")] == ["F0AAAAAA2"]
        assert not await pending_files.finish(s, first.id or 0, worker=None, now=soon)
        assert not await pending_files.finish(s, first.id or 0, worker="w2", now=soon)
    later = soon + LEASE + timedelta(seconds=1)  # w1 died: its claim expires and another process takes it over
    async with factory() as s:
        taken = await pending_files.claim(s, worker="w2", now=later, lease=LEASE, limit=10)
    assert {(r.file_id, r.claimed_by, r.attempts) for r in taken} == {("F0AAAAAA1", "w2", 1),
                                                                     ("F0AAAAAA2", "w2", 0)}
    async with factory() as s:
        assert not await pending_files.finish(s, first.id or 0, worker="w1", now=later)  # too late
        assert await pending_files.finish(s, first.id or 0, worker="w2", now=later)
        await s.commit()
    async with factory() as s:
        assert await pending_files.release(s, worker="w2") == 1
    assert [(r.status, r.claimed_by) for r in await rows(world)] == [("done", None), ("pending", None)]


async def test_two_processes_claim_disjoint_rows(world: World, database_url: str) -> None:
    await ingest(world, *((f"Ev{i}", posted(f"2.{i:06d}", *(f"F0{i:03d}{j:04d}" for j in range(5))))
                          for i in range(40)))
    other = create_engine(database_url)
    try:
        async def worker(engine: AsyncEngine, name: str) -> list[int]:
            got: list[int] = []
            while True:
                async with session_factory(engine)() as s:
                    taken = await pending_files.claim(s, worker=name, now=T0, lease=LEASE, limit=7, every=True)
                if not taken:
                    return got
                got.extend(r.id or 0 for r in taken)
                await asyncio.sleep(0)

        a, b = await asyncio.gather(worker(world.engine, "a"), worker(other, "b"))
    finally:
        await other.dispose()
    assert not set(a) & set(b) and len(a) + len(b) == 200


async def test_the_migration_builds_the_table_the_model_declares(world: World) -> None:
    def differences(conn: Connection) -> list[str]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [repr(d) for d in compare_metadata(context, SQLModel.metadata) if "pending_file_hash" in repr(d)]

    async with world.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
