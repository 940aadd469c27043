"""Action-item reminders with a controllable clock: what fires when, and what snooze, done and due changes do."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot.app.wiring import build_deps
from bot.config import Settings
from bot.followup import action_items, reminders
from bot.record import chain
from bot.slack.sweep import sweep
from storage.models import Incident, Reminder, TimelineEntry
from tests.reminder_world import ALICE, BOB, CAROL, T0, RecordingSlack, World, catalog_with, day
from tests.reminder_world import world as base_world

# Action reminders only: no triage prompts (incidents here are SEV3, which has no status-update cadence).
QUIET = catalog_with(triage={"prompt_every_minutes": None})


def world(database_url: str):  # type: ignore[no-untyped-def]
    return base_world(database_url, catalog=QUIET)


def at(w: World, iso: str) -> None:
    """Move the clock to an ISO time (UTC)."""
    w.clock.current = T0.replace(year=int(iso[:4]), month=int(iso[5:7]), day=int(iso[8:10]),
                                 hour=int(iso[11:13]), minute=int(iso[14:16]))


async def _kinds_at(w: World, iso: str) -> list[str]:
    before = len(w.slack.posts)
    at(w, iso)
    await w.sweep()
    return [str(p["metadata"]["event_payload"]["kind"]) for p in w.slack.posts[before:] if p.get("metadata")]


async def test_due_soon_due_overdue_and_escalation_fire_at_the_right_times(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-06")  # Friday; created Monday 08:00
        assert await _kinds_at(w, "2026-03-02T08:00") == ["assigned"]
        assert w.slack.posts[-1]["channel"] == BOB
        assert await _kinds_at(w, "2026-03-05T08:59") == []
        assert await _kinds_at(w, "2026-03-05T09:00") == ["due_soon"]
        assert await _kinds_at(w, "2026-03-06T09:00") == ["due"]
        assert await _kinds_at(w, "2026-03-07T09:00") == ["overdue"]
        assert await _kinds_at(w, "2026-03-08T09:00") == []
        assert sorted(await _kinds_at(w, "2026-03-09T09:00")) == ["escalation", "overdue"]
        escalation = next(p for p in w.slack.posts if p["metadata"]["event_payload"]["kind"] == "escalation")
        assert escalation["channel"] == ALICE and "3 days overdue" in escalation["text"]
        assert await _kinds_at(w, "2026-03-10T09:00") == []
        assert await _kinds_at(w, "2026-03-11T09:00") == ["overdue"]
        assert len(w.slack.to(ALICE)) == 1, "the commander is told once"
        async with w.deps.session() as s:
            kinds = [e.kind for e in await chain.entries_of(s, incident.id or 0)]
        assert "action_escalated" in kinds
        assert (await w.item(change.action.id or 0)).status == "open"


async def test_a_late_scheduler_sends_each_missed_reminder_once_not_a_backlog(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        await w.sweep()
        # Nobody swept for ten days: the one pending reminder goes out once, then the cadence resumes from now.
        assert await _kinds_at(w, "2026-03-16T12:00") == ["due_soon", "escalation"]
        assert "overdue" in w.slack.posts[-2]["text"].lower() or "Overdue" in str(w.slack.posts[-2]["blocks"])
        assert await _kinds_at(w, "2026-03-16T23:00") == []
        assert await _kinds_at(w, "2026-03-17T09:00") == ["overdue"]


async def test_done_cancels_every_pending_reminder(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-06")
        await w.sweep()
        async with w.deps.session() as s:
            await action_items.complete(s, action_id=change.action.id or 0, note="shipped", actor=BOB, now=w.clock())
        assert {r.status for r in await w.reminders() if r.kind != "assigned"} == {"cancelled"}
        for iso in ("2026-03-05T09:00", "2026-03-06T09:00", "2026-03-09T09:00", "2026-03-20T09:00"):
            assert await _kinds_at(w, iso) == []


async def test_snooze_postpones_the_owner_but_not_the_commander(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-06")
        await w.sweep()
        assert await _kinds_at(w, "2026-03-07T09:00") == ["due_soon"]  # late sweep: one catch-up reminder
        at(w, "2026-03-07T10:00")
        async with w.deps.session() as s:
            _, until = await action_items.snooze(s, catalog=w.deps.catalog, action_id=change.action.id or 0, days=7,
                                            actor=BOB, now=w.clock())
        assert until == w.clock() + timedelta(days=7)
        assert await _kinds_at(w, "2026-03-09T09:00") == ["escalation"]
        assert await _kinds_at(w, "2026-03-13T09:00") == []
        assert await _kinds_at(w, "2026-03-14T10:00") == ["snoozed"]
        assert await _kinds_at(w, "2026-03-15T09:00") == ["overdue"]


async def test_snooze_of_a_far_item_keeps_its_regular_reminder(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-20")
        async with w.deps.session() as s:
            _, until = await action_items.snooze(s, catalog=w.deps.catalog, action_id=change.action.id or 0, days=1,
                                            actor=BOB, now=w.clock())
        assert until == T0.replace(day=19, hour=9)  # the due-soon reminder was later than a day anyway


async def test_a_new_due_date_reschedules_owner_reminders_and_escalation(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-06")
        async with w.deps.session() as s:
            await action_items.set_due(s, catalog=w.deps.catalog, action_id=change.action.id or 0,
                                       due=day("2026-03-13"), actor=ALICE, now=w.clock())
        pending = {(r.kind, r.due_at) for r in await w.reminders(status="pending") if r.kind != "assigned"}
        assert pending == {("due_soon", T0.replace(day=12, hour=9)), ("escalation", T0.replace(day=16, hour=9))}
        assert await _kinds_at(w, "2026-03-06T09:00") == ["assigned"]
        assert await _kinds_at(w, "2026-03-12T09:00") == ["due_soon"]


async def test_reassignment_dms_the_new_owner_and_reminders_follow_the_item(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        change = await w.action(incident, "2026-03-06")
        async with w.deps.session() as s:
            moved = await action_items.reassign(s, action_id=change.action.id or 0, owner=CAROL, actor=BOB,
                                                now=w.clock())
        assert moved.previous_owner == BOB and moved.notify is not None
        await w.sweep()
        assert w.slack.to(BOB) == [] and w.slack.kinds(CAROL) == ["assigned"]  # Bob's DM was superseded
        assert await _kinds_at(w, "2026-03-05T09:00") == ["due_soon"]
        assert w.slack.kinds(CAROL) == ["assigned", "due_soon"]


async def test_a_restart_in_the_middle_loses_nothing(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        await w.action(incident, "2026-03-06", owner=CAROL)
        # A scheduler claims the two assignment DMs and dies before sending them.
        async with w.deps.session() as s:
            crashed = await reminders.claim(s, worker="crashed", now=w.clock(), lease=timedelta(minutes=2), limit=10)
        assert len(crashed) == 2
        await w.deps.close()
        # A new process: a new engine on the same database, a new client.
        w.deps = build_deps(Settings.model_validate({"database_url": database_url}), clock=w.clock)
        w.deps.catalog = QUIET
        slack = w.slack = RecordingSlack()
        assert (await w.sweep()).sent == 0  # still claimed by the dead scheduler
        w.clock.advance(minutes=2)
        report = await w.sweep()
        assert report.sent == 2 and sorted(slack.kinds()) == ["assigned", "assigned"]
        assert {r.attempts for r in await w.reminders(status="sent")} == {1}
        assert await _kinds_at(w, "2026-03-05T09:00") == ["due_soon", "due_soon"]
        assert await _kinds_at(w, "2026-03-06T09:00") == ["due", "due"]


async def test_two_schedulers_on_one_database_send_each_reminder_once(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        for n in range(40):
            await w.action(incident, "2026-03-06", owner=f"U0OWNER{n:03d}")
        other = build_deps(Settings.model_validate({"database_url": database_url}), clock=w.clock)
        other.catalog = QUIET
        second = RecordingSlack()
        try:
            await asyncio.gather(sweep(w.deps, w.slack, now=w.clock(), worker="a", batch=3),
                                 sweep(other, second, now=w.clock(), worker="b", batch=3))  # type: ignore[arg-type]
        finally:
            await other.close()
        ids = [p["metadata"]["event_payload"]["reminder_id"] for p in w.slack.posts + second.posts]
        assert len(ids) == 40 and len(set(ids)) == 40
        assert {r.status for r in await w.reminders() if r.kind == "assigned"} == {"sent"}


async def test_owner_reminders_leave_an_escalation_entry_on_the_chain_only(database_url: str) -> None:
    async with world(database_url) as w:
        incident = await w.incident()
        await w.action(incident, "2026-03-06")
        for iso in ("2026-03-02T08:00", "2026-03-05T09:00", "2026-03-06T09:00", "2026-03-09T09:00"):
            await _kinds_at(w, iso)
        async with w.deps.session() as s:
            rows = (await s.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id))).all()
            fresh = await s.get(Incident, incident.id)
            assert fresh is not None
            report = await chain.verify_incident(s, fresh)
        assert [e.kind for e in rows if e.kind.startswith("action_")] == ["action_added", "action_escalated"]
        assert report.ok
        async with w.deps.session() as s:
            assert (await s.exec(select(Reminder).where(Reminder.status == "claimed"))).first() is None
