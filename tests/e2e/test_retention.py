"""Retention purges raw message text of closed incidents and the chain still verifies."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from bot.record import chain, retention
from storage.models import Incident, TimelineEntry
from tests.e2e.helpers import declare, entries, run


async def test_purge_keeps_hashes_and_the_chain(stack: LocalStack) -> None:
    old, _ = await declare(stack, "Old drift incident")
    fresh, _ = await declare(stack, "Fresh drift incident")
    for inc in (old, fresh):
        await stack.driver.post("alice", inc.channel_name, f"secret details of {inc.channel_name}")
        await run(stack, "alice", inc.channel_name, "note keep this note")
    await run(stack, "alice", old.channel_name, "status closed")
    await stack.settle()
    now = stack.deps.now()
    async with stack.deps.session() as s:
        row = await s.get(Incident, old.id)
        assert row is not None
        row.closed_at = now - timedelta(days=40)
        s.add(row)
        await s.commit()
        purged = await retention.purge(s, days=30, now=now)
    assert purged == {old.id: len([e for e in await entries(stack, old.id or 0)
                                   if e.kind in retention.PURGED_KINDS])}
    old_entries = await entries(stack, old.id or 0)
    assert all(e.text is None for e in old_entries if e.kind in retention.PURGED_KINDS)
    assert all(e.text_sha256 for e in old_entries if e.kind == "message")
    assert next(e for e in old_entries if e.kind == "note").text == "keep this note"
    assert old_entries[-1].kind == "retention_purged"
    fresh_entries = await entries(stack, fresh.id or 0)
    assert any(e.text and "secret details" in e.text for e in fresh_entries)
    async with stack.deps.session() as s:
        for inc_id in (old.id, fresh.id):
            inc = await s.get(Incident, inc_id)
            assert inc is not None
            await s.refresh(inc)
            assert (await chain.verify_incident(s, inc)).ok
        again = await retention.purge(s, days=30, now=now)
        assert again == {}
        rows = (await s.exec(select(TimelineEntry).where(TimelineEntry.incident_id == old.id))).all()
        assert len(rows) == len(old_entries)


async def test_the_scheduler_purges_daily_when_retention_is_configured(database_url: str) -> None:
    async with local_stack(database_url=database_url, scheduler=True, env={"retro_retention_days": "30"}) as stack:
        assert stack.scheduler is not None and stack.scheduler._aps is not None
        job = stack.scheduler._aps.get_job("retro-retention")
        assert job is not None and job.trigger.interval == timedelta(days=1)
        old, _ = await declare(stack, "Long closed drift")
        await stack.driver.post("alice", old.channel_name, "raw words to forget")
        await run(stack, "alice", old.channel_name, "status closed")
        await stack.settle()
        async with stack.deps.session() as s:
            row = await s.get(Incident, old.id)
            assert row is not None
            row.closed_at = stack.deps.now() - timedelta(days=31)
            s.add(row)
            await s.commit()
        purged = await job.func()  # what the daily run does
        assert purged.get(old.id)
        kept = await entries(stack, old.id or 0)
        assert not any(e.text == "raw words to forget" for e in kept) and kept[-1].kind == "retention_purged"
    async with local_stack(database_url=database_url, scheduler=True) as stack:  # not configured: no purge job
        assert stack.scheduler is not None and stack.scheduler._aps is not None
        assert stack.scheduler._aps.get_job("retro-retention") is None
