"""Appending to the chain: pending changes are written first and a loaded incident stays in step with its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.catalog import load_catalog
from bot.incident import incidents
from bot.record import chain
from storage.db import create_engine, session_factory
from storage.models import Incident, RoleAssignment

T0 = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)


async def test_append_keeps_the_loaded_incident_in_step_and_flushes_pending_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            decl = incidents.validate_declaration(load_catalog(), title="Chain append", severity=2,
                                                  category="data-drift")
            inc = await incidents.create(s, team_id="T1", decl=decl, declared_by="U1", declared_in="C0",
                                         channel_id="C1", channel_name="inc-chain-append", now=T0)
            assert inc.id is not None and inc.entry_count == 2
            pending = RoleAssignment(team_id="T1", incident_id=inc.id, role="scribe", user_id="U2",
                                     assigned_by="U1", assigned_at=T0)
            s.add(pending)
            made = await chain.append_many(s, inc.id, [
                chain.NewEntry("note", T0 + timedelta(seconds=i), "U1", f"note {i}") for i in range(3)])
            assert pending.id is not None  # flushed before the chain's own statements, as autoflush did
            assert [e.seq for e in made] == [3, 4, 5]
            assert (inc.entry_count, inc.head_hash, inc.last_entry_at) == (5, made[-1].hash, made[-1].at)
            await s.commit()
        async with session_factory(engine)() as s:
            stored = await s.get(Incident, inc.id)
            assert stored is not None and (stored.entry_count, stored.head_hash) == (5, made[-1].hash)
            assert (await chain.verify_incident(s, stored)).ok
    finally:
        await engine.dispose()
