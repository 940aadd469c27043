"""Event claims are pruned hourly once older than RETRO_EVENT_DEDUPE_HOURS; a retry inside the window is a no-op."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app.local import local_stack
from storage.models import ProcessedEvent
from tests.conftest import FakeClock
from tests.e2e.deliveries import message
from tests.e2e.helpers import declare, entries


async def test_the_scheduler_prunes_claims_past_the_window_and_keeps_the_rest(database_url: str,
                                                                              clock: FakeClock) -> None:
    async with local_stack(database_url=database_url, clock=clock, scheduler=True,
                           env={"retro_event_dedupe_hours": "2"}) as stack:
        assert stack.scheduler is not None and stack.scheduler._aps is not None
        job = stack.scheduler._aps.get_job("retro-event-dedupe")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
        incident, _ = await declare(stack, "Dedupe window drill", options="sev=3 type=infrastructure")
        emu, channel = stack.emulator, incident.channel_id
        old = message("EvWINDOWOLD", 1, channel, "said three hours ago")
        recent = message("EvWINDOWRECENT", 2, channel, "said now")
        assert await emu.deliver_raw(old) == 200
        clock.advance(hours=3)
        assert await emu.deliver_raw(recent) == 200
        recorded = len(await entries(stack, incident.id or 0))

        assert await stack.scheduler.forget_deliveries() >= 1
        async with stack.deps.session() as s:
            claimed = set((await s.exec(select(ProcessedEvent.event_id))).all())
        assert "EvWINDOWRECENT" in claimed and "EvWINDOWOLD" not in claimed
        assert await stack.scheduler.forget_deliveries() == 0  # idempotent: every replica may run it

        # Slack's retries come within minutes: still recognised, answered 200, recorded once.
        clock.advance(minutes=5)
        assert [await emu.deliver_raw(recent, retry_num=n) for n in (1, 2, 3)] == [200, 200, 200]
        assert len(await entries(stack, incident.id or 0)) == recorded
