"""When things happened (`at=`) enters the chain beside when they were recorded, and nothing recorded before moves:
chains, databases and bundles from before still verify and re-render byte for byte."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from bot.canonical import chain_hash, iso
from bot.incident import lifecycle
from bot.postmortem.document import FORMAT, build
from bot.postmortem.draft import render, template_environment
from bot.postmortem.export import (
    DOCUMENT,
    POSTMORTEM,
    BundleError,
    entry_of,
    load_document,
    render_bundle,
    verify_bundle,
    write_bundle,
)
from bot.postmortem.measures import incident_metrics
from bot.postmortem.timeline_picture import timeline_svg
from bot.record import chain
from bot.record.chain import entry_payload, happened_at, verify_entries, verify_incident
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision, upgrade_async
from storage.models import GENESIS_HASH, Incident, TimelineEntry
from storage.types import UTCDateTime
from tests.postmortem_world import T0, fraud_incident, world

OLD_BUNDLE = Path(__file__).parent.parent / "data" / "bundle-before-event-times"
T = datetime(2026, 12, 6, 17, 39, tzinfo=UTC)


def _entry(seq: int, prev: str, occurred: datetime | None = None) -> TimelineEntry:
    e = TimelineEntry(team_id="T1", incident_id=1, seq=seq, at=T + timedelta(seconds=seq), kind="note", actor="U1",
                      data={}, prev_hash=prev, hash="", occurred_at=occurred)
    e.hash = chain_hash(prev, entry_payload(e))
    return e


def test_the_happened_time_is_hashed_only_when_an_entry_has_one() -> None:
    plain = _entry(1, GENESIS_HASH)
    assert "occurred_at" not in entry_payload(plain)  # the payload of every entry chained before at= existed
    dated = _entry(2, plain.hash, T - timedelta(hours=7, minutes=34))
    assert entry_payload(dated)["occurred_at"] == "2026-12-06T10:05:00.000000Z"
    assert happened_at(dated) == T - timedelta(hours=7, minutes=34) and happened_at(plain) == plain.at
    assert verify_entries([plain, dated], expected_head=dated.hash).ok
    dated.occurred_at = T - timedelta(hours=8)  # moved after the fact
    report = verify_entries([plain, dated])
    assert not report.ok and report.bad_seq == 2 and report.reason == "content does not match its hash"


async def test_an_append_keeps_the_happened_time_only_when_it_differs(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await fraud_incident(w, messages=1)
        assert incident.id is not None
        async with w.session() as s:
            last = (await chain.entries_of(s, incident.id))[-1].at
            earlier = last - timedelta(hours=3)
            made = await chain.append_many(s, incident.id, [
                chain.NewEntry("note", last, "U1", "typed late", key_event=True, occurred_at=earlier),
                chain.NewEntry("note", last, "U1", "typed at once", key_event=True, occurred_at=last)])
            await s.commit()
            assert [m.occurred_at for m in made] == [earlier, None]
            stored = await chain.entries_of(s, incident.id)
            assert [e.occurred_at for e in stored[-2:]] == [earlier, None]
            assert (await verify_incident(s, incident)).ok


def test_a_bundle_exported_before_event_times_still_verifies_and_re_renders_byte_for_byte(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    shutil.copytree(OLD_BUNDLE, folder)
    report = verify_bundle(folder)
    assert report.ok, report.checks
    doc = load_document(folder)
    assert doc["format"] == "retro-incident/1" != FORMAT
    assert render_bundle(template_environment(), folder).encode() == (folder / POSTMORTEM).read_bytes()
    assert timeline_svg(doc).encode() == (folder / "timeline.svg").read_bytes()


def test_a_forged_happened_time_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    shutil.copytree(OLD_BUNDLE, folder)
    raw = json.loads((folder / DOCUMENT).read_text())
    note = next(e for e in raw["entries"] if e["kind"] == "note")
    note["occurred_at"] = "2026-03-12T12:00:00.000000Z"  # a note claimed to predate the incident
    (folder / DOCUMENT).write_text(json.dumps(raw))
    assert any(f"chain: entry {note['seq']}: content does not match its hash" in line
               for ok, line in verify_bundle(folder).checks if not ok)
    note["occurred_at"] = None
    (folder / DOCUMENT).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=rf"entries\[{note['seq'] - 1}\]\.occurred_at is not str"):
        verify_bundle(folder)


async def test_a_new_bundle_carries_both_times_and_re_renders(database_url: str, tmp_path: Path) -> None:
    async with world(database_url) as w:
        incident = await fraud_incident(w, messages=2)
        assert incident.id is not None
        async with w.session() as s:
            last = (await chain.entries_of(s, incident.id))[-1].at
            await chain.append(s, incident_id=incident.id, kind="note", at=last, actor="U0BOB", text="flag off",
                               key_event=True, occurred_at=T0 + timedelta(minutes=3))
            await s.commit()
            doc = await build(s, incident, catalog=w.catalog)
    dated = [e for e in doc["entries"] if "occurred_at" in e]
    assert doc["format"] == FORMAT and len(dated) == 1 and dated[0]["occurred_at"] == "2026-03-12T13:03:00.000000Z"
    assert list(dated[0]) == sorted(dated[0])  # canonical key order, like incident.json reads back
    assert happened_at(entry_of(dated[0])) == T0 + timedelta(minutes=3)
    write_bundle(template_environment(), doc, tmp_path / "b")
    assert verify_bundle(tmp_path / "b").ok
    assert render_bundle(template_environment(), tmp_path / "b") == (tmp_path / "b" / POSTMORTEM).read_text()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'before.db'}"
    url: str = request.getfixturevalue("blank_postgres_url")
    return url


async def _load_old_chain(url: str) -> int:
    """The old bundle's incident and chain, written into a database at revision 0003 as that version stored them."""
    doc = load_document(OLD_BUNDLE)
    inc = doc["incident"]
    engine = create_engine(url)
    entry = sa.table("timeline_entry", sa.column("at", UTCDateTime()), sa.column("data", sa.JSON()),
                     *(sa.column(c) for c in ("team_id", "incident_id", "seq", "kind", "actor", "slack_ts",
                                              "thread_ts", "refers_to", "key_event", "text", "text_sha256",
                                              "prev_hash", "hash")))
    try:
        async with session_factory(engine)() as s:
            row = Incident(team_id=inc["team_id"], channel_id=inc["channel_id"], channel_name=inc["channel_name"],
                           title=inc["title"], severity=inc["severity"], category=inc["category"],
                           status=inc["status"], declared_by=inc["declared_by"], models=inc["models"],
                           created_at=datetime.fromisoformat(inc["created_at"]), entry_count=inc["entry_count"],
                           head_hash=inc["head_hash"])
            s.add(row)
            await s.flush()
            assert row.id is not None
            await s.exec(sa.insert(entry).values([
                {**{k: e[k] for k in ("seq", "kind", "actor", "slack_ts", "thread_ts", "refers_to", "key_event",
                                      "text", "text_sha256", "prev_hash", "hash")},
                 "team_id": inc["team_id"], "incident_id": row.id, "data": e["data"],
                 "at": datetime.fromisoformat(e["at"])} for e in doc["entries"]]))
            await s.commit()
            return row.id
    finally:
        await engine.dispose()


async def test_a_database_from_before_is_migrated_and_its_chain_still_verifies(blank_url: str) -> None:
    await upgrade_async(blank_url, "0003")
    incident_id = await _load_old_chain(blank_url)
    await upgrade_async(blank_url, "0004")
    assert await current_revision(blank_url) == "0004"
    engine = create_engine(blank_url)
    try:
        async with session_factory(engine)() as s:
            incident = await s.get(Incident, incident_id)
            assert incident is not None
            report = await verify_incident(s, incident)
            assert report.ok and report.count == 25, report
            last = (await chain.entries_of(s, incident_id))[-1].at
            await chain.append(s, incident_id=incident_id, kind="note", at=last, actor="U0BOB", text="late note",
                               key_event=True, occurred_at=T0 + timedelta(minutes=1))
            await s.commit()
            assert (await verify_incident(s, incident)).ok
        # Going back down would drop a time a hash commits to: refused, nothing changed.
        with pytest.raises(RuntimeError, match="1 timeline entries record when they happened"):
            await asyncio.to_thread(command.downgrade, alembic_config(blank_url), "0003")
        assert await current_revision(blank_url) == "0004"
    finally:
        await engine.dispose()


async def test_metrics_use_when_things_happened(database_url: str) -> None:
    """Impact 09:00, the flag turned off at 10:05 but typed at 17:39: the impact lasted 1h 05m, not 8h 39m."""
    async with world(database_url) as w:
        incident = await fraud_incident(w, messages=1, resolve=False)
        async with w.session() as s:
            fresh = await s.get(Incident, incident.id)
            assert fresh is not None
            fresh.impact_started_at = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
            s.add(fresh)
            await s.commit()
            await lifecycle.change_status(s, catalog=w.catalog, incident=fresh, to="mitigated", actor="U0ALICE",
                                          reason="flag off", now=datetime(2026, 3, 17, 17, 39, tzinfo=UTC),
                                          at=datetime(2026, 3, 12, 10, 5, tzinfo=UTC))
            doc = await build(s, fresh, catalog=w.catalog)
    spans = {s["key"]: s for s in incident_metrics(doc)["spans"]}
    assert spans["impact"]["seconds"] == 65 * 60
    status = next(e for e in doc["entries"] if e["kind"] == "status_changed")
    assert status["occurred_at"] == iso(datetime(2026, 3, 12, 10, 5, tzinfo=UTC))
    assert "| Impact duration | 1h 05m |" in render(template_environment(), doc)
