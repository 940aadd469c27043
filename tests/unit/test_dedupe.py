"""Event claims are kept for the dedupe window, then pruned; a redelivery inside the window stays a no-op."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.config import load_settings
from bot.errors import ConfigError
from bot.record import dedupe
from bot.record.ingest import IngestQueue
from storage.db import create_engine, session_factory
from storage.models import ProcessedEvent

NOW = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)


async def test_old_claims_go_in_chunks_recent_ones_stay_and_still_catch_redeliveries(database_url: str) -> None:
    engine = create_engine(database_url)
    queue = IngestQueue(engine)
    ages = {"EvOld1": 72, "EvOld2": 25, "EvOld3": 24.01, "EvEdge": 23.99, "EvNew": 0.1}  # hours before NOW
    try:
        for event_id, hours in ages.items():
            result = await queue.submit(team_id="T1", event_id=event_id, what=None,
                                        now=NOW - timedelta(hours=hours))
            assert not result.duplicate
        async with session_factory(engine)() as s:
            assert await dedupe.prune(s, hours=24, now=NOW, chunk=2) == 3  # two chunks of two, the last short
            kept = set((await s.exec(select(ProcessedEvent.event_id).order_by(col(ProcessedEvent.id)))).all())
            assert kept == {"EvEdge", "EvNew"}
            assert await dedupe.prune(s, hours=24, now=NOW) == 0  # idempotent: another replica finds nothing
        for event_id in ("EvEdge", "EvNew"):  # Slack retries within the window: still answered as duplicates
            assert (await queue.submit(team_id="T1", event_id=event_id, what=None, now=NOW)).duplicate
    finally:
        await queue.close()
        await engine.dispose()


async def test_the_window_has_a_floor_above_slacks_retries(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            with pytest.raises(ValueError, match="at least 1 hour"):
                await dedupe.prune(s, hours=0, now=NOW)
    finally:
        await engine.dispose()
    assert load_settings().retro_event_dedupe_hours == 24
    assert load_settings(retro_event_dedupe_hours=1).retro_event_dedupe_hours == 1
    with pytest.raises(ConfigError, match="RETRO_EVENT_DEDUPE_HOURS"):
        load_settings(retro_event_dedupe_hours=0)
