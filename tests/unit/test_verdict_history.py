"""Migration 0005: the verdict each hypothesis holds becomes the first row of its history, and action items gain
`after_close` (false for every item before)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import col, select

from bot.incident import hypotheses
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision, upgrade_async
from storage.models import ActionItem, Hypothesis, HypothesisVerdict, Incident

T0 = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'before.db'}"
    url: str = request.getfixturevalue("blank_postgres_url")
    return url


async def _write_before(url: str) -> int:
    """An incident at revision 0004 with a confirmed H1 (overwritten once already), an open H2 and one action."""
    engine = create_engine(url)
    action = sa.table("action_item", *(sa.column(c) for c in (
        "team_id", "incident_id", "number", "title", "owner", "due", "kind", "status", "created_by", "created_at")))
    try:
        async with session_factory(engine)() as s:
            incident = Incident(team_id="T1", channel_id="C1", channel_name="inc-old", title="Old", severity=2,
                                category="data-drift", declared_by="U0ALICE", created_at=T0, hypothesis_seq=2,
                                action_seq=1)
            s.add(incident)
            await s.flush()
            assert incident.id is not None
            s.add(Hypothesis(team_id="T1", incident_id=incident.id, number=1, statement="Schema change",
                             proposed_by="U0BOB", proposed_at=T0, verdict="confirmed", verdict_evidence=[2, 1],
                             verdict_note="replay matched", verdict_by="U0CAROL", verdict_at=T0 + timedelta(hours=1)))
            s.add(Hypothesis(team_id="T1", incident_id=incident.id, number=2, statement="Holiday traffic",
                             proposed_by="U0BOB", proposed_at=T0))
            await s.exec(sa.insert(action).values(team_id="T1", incident_id=incident.id, number=1, title="Pin it",
                                                  owner="U0BOB", due=date(2026, 3, 20), kind="fix", status="open",
                                                  created_by="U0ALICE", created_at=T0))
            await s.commit()
            return incident.id
    finally:
        await engine.dispose()


async def test_the_verdict_held_becomes_the_first_history_row_and_the_next_one_replaces_it(blank_url: str) -> None:
    await upgrade_async(blank_url, "0004")
    incident_id = await _write_before(blank_url)
    await upgrade_async(blank_url, "0005")
    assert await current_revision(blank_url) == "0005"
    engine = create_engine(blank_url)
    try:
        async with session_factory(engine)() as s:
            history = await hypotheses.histories(s, incident_id)
            assert list(history) == [1]  # the open H2 has no verdict to keep
            (first,) = history[1]
            assert (first.seq, first.verdict, first.evidence, first.note, first.decided_by) == (
                1, "confirmed", [2, 1], "replay matched", "U0CAROL")
            assert first.decided_at == first.recorded_at == T0 + timedelta(hours=1)
            (item,) = (await s.exec(select(ActionItem))).all()
            assert item.after_close is False
            incident = await s.get(Incident, incident_id)
            assert incident is not None
            later = T0 + timedelta(hours=3)
            done = await hypotheses.record_verdict(s, incident=incident, number=1, verdict="refuted", evidence=[],
                                                   note="the replay used the wrong day", actor="U0DAVE", now=later)
            assert done.replaced is not None and done.replaced.id == first.id
            rows = (await s.exec(select(HypothesisVerdict).order_by(col(HypothesisVerdict.seq)))).all()
            assert [(r.seq, r.verdict, r.decided_by) for r in rows] == [(1, "confirmed", "U0CAROL"),
                                                                        (2, "refuted", "U0DAVE")]
        # Down and up again: the history goes (the chain still holds every verdict) and comes back empty.
        await asyncio.to_thread(command.downgrade, alembic_config(blank_url), "0004")
        assert await current_revision(blank_url) == "0004"
        await upgrade_async(blank_url, "0005")
        async with session_factory(engine)() as s:
            again = (await s.exec(select(HypothesisVerdict))).all()
            assert [(r.seq, r.verdict, r.decided_by) for r in again] == [(1, "refuted", "U0DAVE")]
    finally:
        await engine.dispose()
