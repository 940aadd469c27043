"""Delivery: retries with backoff, giving up once, rate limits, status-update and triage prompts, the digest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot.app.scheduler import ReminderScheduler, digest_trigger, last_fire
from bot.followup import prompts, reminders
from bot.incident import lifecycle, triage
from bot.record import chain, timeline
from bot.record.timeline import Posted
from storage.models import Incident, Reminder
from tests.reminder_world import ALICE, BOB, CAROL, DAVE, T0, World, catalog_with, slack_error, world

NO_TRIAGE = catalog_with(triage={"prompt_every_minutes": None})


async def _sweep_at(w: World, minutes: float) -> int:
    before = len(w.slack.posts)
    w.clock.current = T0 + timedelta(minutes=minutes)
    await w.sweep()
    return len(w.slack.posts) - before


async def _entries(w: World, incident: Incident) -> list[str]:
    async with w.deps.session() as s:
        return [e.kind for e in await chain.entries_of(s, incident.id or 0)]


async def test_a_failing_send_is_retried_with_backoff_then_the_commander_is_told_once(database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        w.slack.fail = [slack_error("internal_error") for _ in range(5)]
        attempts_at = [0, 1, 3, 7, 15]  # minutes: 1, 2, 4, 8 minutes apart
        for minute in attempts_at:
            calls = w.slack.calls
            await _sweep_at(w, minute - 0.5)
            assert w.slack.calls == calls, f"nothing is tried before minute {minute}"
            await _sweep_at(w, minute)
            assert w.slack.calls > calls, f"a retry at minute {minute}"
        (failed,) = await w.reminders(status="failed")
        assert failed.kind == "assigned" and failed.attempts == 5 and failed.last_error == "internal_error"
        notices = w.slack.to(ALICE)
        assert len(notices) == 1 and "5 attempts" in notices[0]["text"] and "A1" in notices[0]["text"]
        assert "reminder_failed" in await _entries(w, incident)
        for minute in (30, 120, 600):
            await _sweep_at(w, minute)
        assert len(w.slack.to(ALICE)) == 1 and w.slack.to(BOB) == []


async def test_a_permanent_error_gives_up_at_once_and_a_failing_notice_is_not_noticed(database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        w.slack.fail = [slack_error("user_not_found"), slack_error("account_inactive")]
        await w.sweep()
        rows = await w.reminders(status="failed")
        assert sorted(r.kind for r in rows) == ["assigned", "failure_notice"]
        assert w.slack.posts == []
        async with w.deps.session() as s:
            count = len((await s.exec(select(Reminder).where(Reminder.kind == "failure_notice"))).all())
        assert count == 1


async def test_rate_limits_delay_but_never_drop_or_count_as_failures(database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        w.slack.fail = [slack_error("ratelimited", status=429, retry_after=30) for _ in range(12)]
        for n in range(12):
            await _sweep_at(w, n * 0.5)
        (row,) = [r for r in await w.reminders() if r.kind == "assigned"]
        assert row.status == "pending" and row.attempts == 0 and row.last_error == "ratelimited"
        assert await _sweep_at(w, 5.9) == 0
        assert await _sweep_at(w, 6) == 1
        assert w.slack.kinds(BOB) == ["assigned"]


async def test_status_update_prompts_follow_the_severity_cadence_and_what_counts_as_an_update(
        database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident(sev=1)  # SEV1: an update every 30 minutes
        await w.assign(incident, "comms", CAROL)

        async def say(user: str, minutes: float, *, thread: str | None = None) -> None:
            async with w.deps.session() as s:
                await timeline.record(s, incident, Posted(incident.channel_id, user, f"{minutes}.0001", "update",
                                                          thread), T0 + timedelta(minutes=minutes))
                await s.commit()

        assert await _sweep_at(w, 29) == 0
        assert await _sweep_at(w, 30) == 1
        prompt = w.slack.posts[-1]
        assert prompt["channel"] == incident.channel_id and f"<@{ALICE}>" in prompt["text"]
        assert "30 min" in prompt["text"]
        assert await _sweep_at(w, 45) == 0
        assert await _sweep_at(w, 60) == 1  # still nothing posted: prompted again
        async with w.deps.session() as s:
            await timeline.add_note(s, incident=incident, text="rolled back", actor=BOB,
                                    now=T0 + timedelta(minutes=70))
        assert await _sweep_at(w, 99) == 0
        assert await _sweep_at(w, 100) == 1
        await say(ALICE, 105)  # the commander posts in the channel
        assert await _sweep_at(w, 134) == 0
        assert await _sweep_at(w, 135) == 1
        await say(DAVE, 140)  # not a role that gives updates
        await say(ALICE, 150, thread="1.0001")  # a thread reply is not a status update
        assert await _sweep_at(w, 165) == 1
        await say(CAROL, 170)  # comms
        assert await _sweep_at(w, 199) == 0
        async with w.deps.session() as s:
            stored = await s.get(Incident, incident.id)
        assert stored is not None and stored.last_update_at == T0 + timedelta(minutes=170)
        async with w.deps.session() as s:
            await lifecycle.change_status(s, catalog=w.deps.catalog, incident=stored, to="resolved", actor=ALICE,
                                          reason="", now=T0 + timedelta(minutes=200))
        assert await _sweep_at(w, 240) == 0  # resolved: no more prompts


async def test_a_prompt_due_when_an_update_arrives_is_dropped(database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident(sev=2)  # every 60 minutes
        w.clock.current = T0 + timedelta(minutes=60)
        async with w.deps.session() as s:
            assert await prompts.materialize(s, catalog=w.deps.catalog, now=w.clock()) == 1
            await lifecycle.change_severity(s, catalog=w.deps.catalog, incident=incident, level="1", actor=ALICE,
                                            reason="wider impact", now=w.clock())
        await w.sweep()
        assert w.slack.posts == []
        (row,) = await w.reminders()
        assert row.status == "cancelled" and row.last_error == "an update was posted"


async def test_triage_prompts_until_the_required_fields_are_filled(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident(sev=3)
        await w.assign(incident, "scribe", BOB)
        async with w.deps.session() as s:
            stored = await s.get(Incident, incident.id)
            assert stored is not None
            stored.card_ts = "1700000000.000001"
            s.add(stored)
            await s.commit()
        assert await _sweep_at(w, 14) == 0
        assert await _sweep_at(w, 15) == 1
        prompt = w.slack.posts[-1]
        assert prompt["thread_ts"] == "1700000000.000001"
        assert f"<@{ALICE}>" in prompt["text"] and f"<@{BOB}>" in prompt["text"]
        assert "What happened" in prompt["text"] and "Customer impact" in prompt["text"]
        form = triage.TriageForm(what_happened="precision fell", detection="alert", affected="fraud@3")
        async with w.deps.session() as s:
            await triage.submit(s, incident=stored, form=form, actor=BOB, now=T0 + timedelta(minutes=20))
        assert await _sweep_at(w, 30) == 1
        remaining = w.slack.posts[-1]["text"]
        assert "What happened" not in remaining and "Customer impact" in remaining
        full = form.model_copy(update={"impact_start": T0, "customer_impact": "false declines"})
        async with w.deps.session() as s:
            await triage.submit(s, incident=stored, form=full, actor=BOB, now=T0 + timedelta(minutes=35))
        assert await _sweep_at(w, 45) == 0
        assert await _sweep_at(w, 240) == 0
        assert (await _entries(w, incident)).count("bot_message") == 2  # both prompts are on the record


async def test_the_weekly_digest_is_enqueued_once_and_lists_overdue_first(database_url: str) -> None:
    catalog = catalog_with(triage={"prompt_every_minutes": None}, digest={"channel": "C0DIGEST"})
    async with world(database_url, catalog=catalog) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-03", title="Backfill labels")
        await w.action(incident, "2026-03-20", title="Add drift monitor", owner=CAROL)
        w.clock.current = T0 + timedelta(days=2)  # 4 March: the first item is a day overdue
        first = ReminderScheduler(w.deps, w.slack, worker="a")  # type: ignore[arg-type]
        second = ReminderScheduler(w.deps, w.slack, worker="b")  # type: ignore[arg-type]
        a, b = await asyncio.gather(first.digest(), second.digest())
        assert a.sent + b.sent == 1
        (post,) = w.slack.to("C0DIGEST")
        blocks = str(post["blocks"])
        assert "Overdue (1)" in blocks and "Open (1)" in blocks
        assert blocks.index("Backfill labels") < blocks.index("Add drift monitor")
        assert "2 open action items, 1 overdue" in post["text"]


async def test_digest_cron_and_catch_up_window(database_url: str) -> None:
    catalog = catalog_with(digest={"channel": "C0DIGEST", "day_of_week": "mon", "time": "09:00",
                                   "timezone": "Europe/Paris"})
    async with world(database_url, catalog=catalog) as w:
        trigger = digest_trigger(w.deps)
        # Monday 2 March 2026, 09:00 in Paris is 08:00 UTC.
        assert last_fire(trigger, T0 + timedelta(hours=5), timedelta(hours=24)) == T0
        assert last_fire(trigger, T0 - timedelta(minutes=1), timedelta(hours=24)) is None


async def test_the_scheduler_runs_sweeps_and_stopping_releases_its_claims(database_url: str) -> None:
    async with world(database_url, catalog=NO_TRIAGE) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        scheduler = ReminderScheduler(w.deps, w.slack)  # type: ignore[arg-type]
        await scheduler.start()
        for _ in range(200):  # the first sweep is over (not just its first post): the next is a minute away
            if scheduler.last_report is not None:
                break
            await asyncio.sleep(0.02)
        assert w.slack.kinds(BOB) == ["assigned"]
        await w.action(incident, "2026-03-06", owner=DAVE)
        async with w.deps.session() as s:
            held = await reminders.claim(s, worker=scheduler.worker, now=w.clock(), lease=timedelta(minutes=2),
                                         limit=10)
        assert len(held) == 1
        assert await scheduler.stop() == 1
        assert {r.status for r in await w.reminders() if r.kind == "assigned"} == {"sent", "pending"}
        assert scheduler.last_report is not None and scheduler.last_report.sent == 1
