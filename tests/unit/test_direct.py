"""Statements run straight on the driver store rows exactly as the ORM does, and fail as SQLAlchemy errors; the
ingest writer tells a refused delivery (which then fails alone) from an outage (which fails its whole batch)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncpg.exceptions import InterfaceError as PgInterfaceError
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.canonical import sha256_hex
from bot.catalog import load_catalog
from bot.errors import RetroError
from bot.incident import incidents
from bot.record import chain, timeline
from bot.record.ingest import IngestQueue, IngestResult, WriterClosed, _Item, process_batch
from bot.record.timeline import Edited, Posted
from storage.db import create_engine, session_factory
from storage.direct import DirectWriter, is_refusal
from storage.models import Incident, ProcessedEvent, TimelineEntry

T0 = datetime(2026, 5, 1, 14, 0, 0, 250_000, tzinfo=UTC)
RAW = text("SELECT seq, at, data, key_event, refers_to FROM timeline_entry WHERE incident_id = :i ORDER BY seq")


@dataclass
class Direct:
    """A migrated database with one incident, its engine, and a driver-level writer on it."""

    engine: AsyncEngine
    incident: Incident
    writer: DirectWriter


@pytest.fixture
async def direct(database_url: str) -> AsyncIterator[Direct]:
    """One incident on the migrated database, and a driver-level writer beside the ORM."""
    engine = create_engine(database_url)
    async with session_factory(engine)() as s:
        decl = incidents.validate_declaration(load_catalog(), title="Direct", severity=2, category="data-drift")
        incident = await incidents.create(s, team_id="T1", decl=decl, declared_by="U1", declared_in="C0",
                                          channel_id="C1", channel_name="inc-direct", now=T0)
    assert incident.id is not None
    world = Direct(engine, incident, DirectWriter(engine))
    try:
        yield world
    finally:
        await world.writer.release()
        await engine.dispose()


def _item(event_id: str, what: Posted | Edited, at: datetime) -> _Item:
    return _Item("T1", event_id, what, at, asyncio.get_running_loop().create_future())


async def test_driver_rows_read_back_like_orm_rows(direct: Direct) -> None:
    inc, engine, writer = direct.incident, direct.engine, direct.writer
    data = {"files": [{"id": "F1", "name": "é.txt"}], "n": 3}
    async with session_factory(engine)() as s:  # one entry through the ORM session …
        await chain.append_many(s, inc.id, [chain.NewEntry("message", T0, "U1", "orm", "1.1", data=data)])
        await s.commit()
    async with writer.transaction() as st:  # … one straight on the driver, with the same values
        await chain.append_with(st, inc.id, [chain.NewEntry("message", T0, "U1", "direct", "1.2", data=data)])
    async with engine.connect() as conn:
        rows = (await conn.execute(RAW, {"i": inc.id})).all()
    orm, raw = rows[-2], rows[-1]
    assert (orm.seq + 1, orm.at, orm.data, orm.key_event) == (raw.seq, raw.at, raw.data, raw.key_event)
    async with session_factory(engine)() as s:
        entries = await chain.entries_of(s, inc.id)
        assert entries[-1].at == T0 and entries[-1].at.tzinfo is not None and entries[-1].data == data
        stored = await s.get(Incident, inc.id)
        assert stored is not None and stored.last_entry_at == T0
        assert (await chain.verify_incident(s, stored)).ok


async def test_batches_claim_once_and_resolve_edits_across_batches(direct: Direct) -> None:
    inc, writer = direct.incident, direct.writer
    known: dict[tuple[str, str], int] = {}
    posted = Posted(inc.channel_id, "U2", "1700000000.000100", "first words")
    async with writer.transaction() as st:
        first = await process_batch(st, [_item("Ev1", posted, T0), _item("Ev1", posted, T0)], known)
    assert [r.duplicate for r in first] == [False, True] and first[0].incident_id == inc.id
    edited = Edited(inc.channel_id, "U2", posted.ts, "second words")
    async with writer.transaction() as st:
        second = await process_batch(st, [_item("Ev1", posted, T0), _item("Ev2", edited, T0 - timedelta(1))],
                                     known)
    assert [r.duplicate for r in second] == [True, False]
    edit = second[1].entries[0]
    assert edit.refers_to == first[0].entries[0].seq  # found in the table, not in the batch
    assert edit.at == T0  # never earlier than the entry before it
    assert known == {("T1", inc.channel_id): inc.id}


async def test_a_failed_transaction_rolls_back_and_raises_sqlalchemy_errors(direct: Direct) -> None:
    inc, engine, writer = direct.incident, direct.engine, direct.writer
    before = inc.entry_count
    with pytest.raises(IntegrityError):
        async with writer.transaction() as st:
            await chain.append_with(st, inc.id, [chain.NewEntry("note", T0, "U1", "kept?")])
            await st.run_many(TimelineEntry.__table__.insert(), [  # type: ignore[attr-defined]
                {"team_id": "T1", "incident_id": inc.id, "seq": before + 1, "at": T0, "kind": "note",
                 "key_event": False, "data": {}, "prev_hash": "0" * 64, "hash": "1" * 64}])
    with pytest.raises(OperationalError):
        async with writer.transaction() as st:
            await st.rows(text("SELECT nothing FROM no_such_table"), {})
    with pytest.raises(LookupError):
        async with writer.transaction() as st:
            await chain.append_with(st, 10_000, [chain.NewEntry("note", T0, "U1", "nowhere")])
    async with session_factory(engine)() as s:  # nothing of the failed transactions stayed
        stored = await s.get(Incident, inc.id)
        assert stored is not None and stored.entry_count == before
        assert (await chain.verify_incident(s, stored)).ok
    async with writer.transaction() as st:  # and the writer carries on with a fresh connection
        made, head = await chain.append_with(st, inc.id, [chain.NewEntry("note", T0, "U1", "after")])
    assert head.entries == before + 1 == made[0].seq


async def test_notes_and_events_share_one_writer_and_one_chain(direct: Direct) -> None:
    inc, engine = direct.incident, direct.engine
    queue = IngestQueue(engine)
    try:
        events = [queue.submit(team_id="T1", event_id=f"EvD{n}", now=T0,
                               what=Posted(inc.channel_id, "U2", f"1700000001.{n:06d}", f"message {n}"))
                  for n in range(20)]
        notes = [queue.append(team_id="T1", channel=inc.channel_id, now=T0,
                              entry=timeline.note_entry(text=f"note {n}", actor="U1", now=T0)) for n in range(20)]
        done = await asyncio.gather(*events, *notes)
        chained = [r.entries[0] for r in done[:20]] + done[20:]  # type: ignore[union-attr]
        assert sorted(e.seq for e in chained) == list(range(inc.entry_count + 1, inc.entry_count + 41))
        assert all(e.key_event for e in done[20:])  # type: ignore[union-attr]
        # A note typed outside an incident channel is not recorded; the event batched with it is.
        lost, elsewhere, kept = await asyncio.gather(
            queue.append(team_id="T1", channel="C0GENERAL", now=T0,
                         entry=timeline.note_entry(text="nowhere", actor="U1", now=T0)),
            queue.append(team_id="T2", channel=inc.channel_id, now=T0,  # the same channel id, another workspace
                         entry=timeline.note_entry(text="elsewhere", actor="U1", now=T0)),
            queue.submit(team_id="T1", event_id="EvD99", now=T0,
                         what=Posted(inc.channel_id, "U2", "1700000002.000001", "still here")))
        assert lost is None and elsewhere is None and kept.entries  # type: ignore[union-attr]
        async with session_factory(engine)() as s:
            stored = await s.get(Incident, inc.id)
            assert stored is not None and stored.entry_count == inc.entry_count + 41
            assert (await chain.verify_incident(s, stored)).ok
    finally:
        await queue.close()


async def test_close_writes_what_is_queued_then_refuses(direct: Direct) -> None:
    inc, engine = direct.incident, direct.engine
    queue = IngestQueue(engine)
    pending = [asyncio.ensure_future(queue.submit(
        team_id="T1", event_id=f"EvE{n}", now=T0,
        what=Posted(inc.channel_id, "U2", f"1700000003.{n:06d}", f"m {n}"))) for n in range(50)]
    await asyncio.sleep(0)  # queued, and the writer has taken its first batch
    await queue.close()
    assert all(p.done() for p in pending)  # nobody is left waiting
    assert sum(bool(p.result().entries) for p in pending) == 50  # and all of it was committed
    with pytest.raises(WriterClosed):
        await queue.submit(team_id="T1", event_id="EvE-late", now=T0,
                           what=Posted(inc.channel_id, "U2", "1700000004.000001", "too late"))
    async with session_factory(engine)() as s:
        stored = await s.get(Incident, inc.id)
        assert stored is not None and stored.entry_count == inc.entry_count + 50


async def test_bad_values_fail_as_themselves_and_none_is_stored_like_the_orm(direct: Direct) -> None:
    inc, engine, writer = direct.incident, direct.engine, direct.writer
    naive = datetime(2026, 5, 1, 14, 0)
    with pytest.raises(ValueError, match="naive"):  # a programming error, not a database outage
        async with writer.transaction() as st:
            await st.rows(chain._ADVANCE, {"incident_id": inc.id, "head_hash": "0" * 64, "last_entry_at": naive})
    with pytest.raises(KeyError, match="required"):
        async with writer.transaction() as st:
            await st.rows(chain._ADVANCE, {"incident_id": inc.id})
    row = {"team_id": "T1", "incident_id": inc.id, "seq": 10_000, "at": T0, "kind": "note", "key_event": False,
           "data": None, "prev_hash": "0" * 64, "hash": "1" * 64}
    table = TimelineEntry.__table__  # type: ignore[attr-defined]
    async with writer.transaction() as st:
        await st.run_many(table.insert(), [row])
    async with engine.begin() as conn:
        await conn.execute(table.insert(), [{**row, "seq": 10_001}])
        raw = (await conn.execute(text("SELECT data FROM timeline_entry WHERE seq >= 10000 ORDER BY seq"))).all()
    assert raw[0].data == raw[1].data  # JSON null either way


async def test_a_delivery_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_recorded(
        direct: Direct, caplog: pytest.LogCaptureFixture) -> None:
    inc, engine = direct.incident, direct.engine
    caplog.set_level(logging.WARNING, logger="retro.ingest")
    pg = engine.dialect.name == "postgresql"
    queue = IngestQueue(engine)
    said = {"0": "before", "NUL": "drift \x00 at 5%", "LONE": "half an emoji \ud83d", "ID\x00": "odd event id",
            "3": "after"}

    def event(key: str) -> asyncio.Future[IngestResult]:
        what = Posted(inc.channel_id, "U2", f"1700000005.{list(said).index(key):06d}", said[key])
        return asyncio.ensure_future(queue.submit(team_id="T1", event_id=f"EvP{key}", now=T0, what=what))

    def note(words: str) -> asyncio.Future[chain.Chained | None]:
        return asyncio.ensure_future(queue.append(team_id="T1", channel=inc.channel_id, now=T0,
                                                  entry=timeline.note_entry(text=words, actor="U1", now=T0)))

    try:
        # Queued together before the writer runs: one batch.
        pending: list[asyncio.Future[Any]] = [event("0"), event("NUL"), event("LONE"), note("typed \x00 note"),
                                              note("typed \udfff note"), event("ID\x00"), event("3")]
        before, nul, lone, typed, untyped, odd_id, after = await asyncio.gather(*pending, return_exceptions=True)
        assert any(f"ingest batch of {len(pending)} refused" in r.getMessage() for r in caplog.records)
        assert isinstance(lone, IngestResult) and lone.refused and "UnicodeEncodeError" in lone.refused
        assert not lone.entries and not lone.duplicate
        assert isinstance(untyped, RetroError) and "could not be recorded" in untyped.user_message
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("'EvPLONE'" in m and "not recorded" in m for m in logged), logged
        # PostgreSQL cannot hold NUL in an event id, SQLite can: refused there, recorded here.
        assert isinstance(odd_id, IngestResult) and bool(odd_id.refused) == pg and bool(odd_id.entries) != pg
        assert isinstance(before, IngestResult) and isinstance(nul, IngestResult) and isinstance(after, IngestResult)
        assert isinstance(typed, chain.Chained)
        order = [before.entries[0].seq, nul.entries[0].seq, typed.seq, after.entries[0].seq]
        assert order == sorted(order)  # written in the order they came
        assert nul.entries[0].text == "drift %00 at 5%25" and typed.text == "typed %00 note"
        assert nul.entries[0].text_sha256 == sha256_hex("drift \x00 at 5%")  # the digest is of what was said

        async with session_factory(engine)() as s:
            rows = await chain.entries_of(s, inc.id or 0)
            stored = await s.get(Incident, inc.id)
            assert stored is not None and (await chain.verify_incident(s, stored)).ok
        texts = [e.text for e in rows]
        assert "drift %00 at 5%25" in texts and "typed %00 note" in texts
        assert not any(t and ("emoji" in t or "typed \udfff" in t) for t in texts)

        # Slack delivers again: the recorded events are duplicates, the refused one is refused again, nothing moves.
        again = await asyncio.gather(*(event(k) for k in ("0", "NUL", "LONE", "3")))
        assert [r.duplicate for r in again] == [True, True, False, True] and again[2].refused
        async with session_factory(engine)() as s:
            assert len(await chain.entries_of(s, inc.id or 0)) == len(rows)
            claimed = set((await s.exec(select(ProcessedEvent.event_id))).all())
        assert {"EvP0", "EvPNUL", "EvP3"} <= claimed and "EvPLONE" not in claimed
    finally:
        await queue.close()


async def test_an_unreachable_database_fails_every_delivery_of_the_batch() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")  # the discard port: refused
    queue = IngestQueue(engine)
    try:
        outcomes = await asyncio.gather(*(queue.submit(team_id="T1", event_id=f"EvU{n}", now=T0,
                                                       what=Posted("C1", "U2", f"1700000007.{n:06d}", f"m {n}"))
                                          for n in range(3)), return_exceptions=True)
    finally:
        await queue.close()
        await engine.dispose()
    assert all(isinstance(o, OSError) for o in outcomes), outcomes  # a 500 each: Slack delivers them again


async def test_a_refused_value_keeps_the_connection_any_other_failure_throws_it_away(direct: Direct) -> None:
    inc, writer = direct.incident, direct.writer
    async with writer.transaction() as st:
        made, _ = await chain.append_with(st, inc.id or 0, [chain.NewEntry("note", T0, "U1", "kept")])
    held = writer._conn
    assert held is not None
    with pytest.raises(IntegrityError):  # the same sequence number again: refused, the connection is fine
        async with writer.transaction() as st:
            await st.run_many(TimelineEntry.__table__.insert(), [  # type: ignore[attr-defined]
                {"team_id": "T1", "incident_id": inc.id, "seq": made[0].seq, "at": T0, "kind": "note",
                 "key_event": False, "data": {}, "prev_hash": "0" * 64, "hash": "1" * 64}])
    assert writer._conn is held
    with pytest.raises(OperationalError):  # not a refusal: the connection may be broken, so it goes
        async with writer.transaction() as st:
            await st.rows(text("SELECT nothing FROM no_such_table"), {})
    assert writer._conn is None
    async with writer.transaction() as st:  # and the next transaction has a fresh one
        await chain.append_with(st, inc.id or 0, [chain.NewEntry("note", T0, "U1", "after")])


def test_refusals_are_told_from_outages() -> None:
    refused = [IntegrityError("INSERT", None, Exception("duplicate key")), DataError("INSERT", None, Exception("NUL")),
               UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), ValueError("naive datetime"),
               LookupError("incident 9 does not exist")]
    outages = [OperationalError("SELECT 1", None, Exception("server closed the connection")),
               ConnectionRefusedError(111, "refused"), TimeoutError(), WriterClosed("stopping"),
               PoolTimeout("QueuePool limit reached"), PgInterfaceError("connection is closed"),
               asyncio.CancelledError()]
    assert [is_refusal(e) for e in refused] == [True] * len(refused)
    assert [is_refusal(e) for e in outages] == [False] * len(outages)
