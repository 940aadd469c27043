"""Reminders through the sandbox with a controllable clock: DMs, escalation, prompts, 429s, Home refresh, digest."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col, select

from bot.app.local import SANDBOX_TOKEN, LocalStack
from bot.app.scheduler import ReminderScheduler
from bot.ids import ActionId
from bot.slack.sweep import SweepReport, sweep
from storage.models import ActionItem, Reminder
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, run, texts
from tests.reminder_world import T0, catalog_with

NO_TRIAGE = catalog_with(triage={"prompt_every_minutes": None})


async def _sweep(stack: LocalStack, clock: FakeClock, *, at: timedelta | None = None,
                 client: AsyncWebClient | None = None) -> SweepReport:
    if at is not None:
        clock.current = T0 + at
    report = await sweep(stack.deps, client or stack.bolt.client, now=clock())
    await stack.settle()
    return report


def _dm_texts(stack: LocalStack, user: str) -> list[str]:
    return [str(m.get("blocks")) + str(m.get("text")) for m in stack.driver.dms(user)]


async def test_owner_reminders_escalation_snooze_and_done_in_slack(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    stack.deps.catalog = NO_TRIAGE
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await run(stack, "alice", f"#{incident.channel_name}", "action Alert on null rate owner=@bob due=2026-03-06")
    assert len(drv.dms("bob")) == 1  # the assignment, at once
    day = timedelta(days=1)
    assert (await _sweep(stack, t0, at=3 * day + timedelta(minutes=59))).sent == 0
    assert (await _sweep(stack, t0, at=3 * day + timedelta(hours=1))).sent == 1
    assert "Coming up" in _dm_texts(stack, "bob")[-1] and "due tomorrow" in _dm_texts(stack, "bob")[-1]
    await _sweep(stack, t0, at=4 * day + timedelta(hours=1))
    assert "Due today" in _dm_texts(stack, "bob")[-1]
    await _sweep(stack, t0, at=5 * day + timedelta(hours=1))
    assert "1 day overdue" in _dm_texts(stack, "bob")[-1]
    await _sweep(stack, t0, at=7 * day + timedelta(hours=1))
    assert "3 days overdue" in _dm_texts(stack, "bob")[-1]
    (escalation,) = drv.dms("alice")
    assert "3 days overdue" in str(escalation["blocks"]) and "commander" in str(escalation["blocks"])
    assert len(drv.dms("bob")) == 5

    async with stack.deps.session() as s:
        item = (await s.exec(select(ActionItem))).one()
    latest = drv.dms("bob")[-1]
    await drv.click("bob", action_id=ActionId.ACTION_SNOOZE_WEEK, channel="@bob", message_ts=latest["ts"],
                    value=str(item.id))
    await stack.settle()
    for days in (9, 11, 13):
        assert (await _sweep(stack, t0, at=days * day + timedelta(hours=1))).sent == 0
    assert (await _sweep(stack, t0, at=7 * day + timedelta(hours=1) + 7 * day)).sent == 1
    assert "Snoozed reminder" in _dm_texts(stack, "bob")[-1]
    await drv.click("bob", action_id=ActionId.ACTION_DONE, channel="@bob", message_ts=drv.dms("bob")[-1]["ts"],
                    value=str(item.id))
    await stack.settle()
    count = len(drv.dms("bob"))
    for days in (15, 17, 30):
        await _sweep(stack, t0, at=days * day + timedelta(hours=1))
    assert len(drv.dms("bob")) == count and len(drv.dms("alice")) == 1


async def test_rate_limits_delay_reminders_but_never_drop_them(clocked: LocalStack, t0: FakeClock) -> None:
    stack, emu = clocked, clocked.emulator
    stack.deps.catalog = NO_TRIAGE
    incident, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
    owners = ["bob", "carol", "dave", "erin"]
    emu.ratelimit(every_nth=3, retry_after=1, methods={"chat.postMessage"})
    for owner in owners:  # the bot's own client waits out the 429s it gets
        await run(stack, "alice", f"#{incident.channel_name}", f"action Task for {owner} owner=@{owner} due=+3d")
    assert all(len(stack.driver.dms(o)) == 1 for o in owners)
    assert emu.call_count("chat.postMessage", include_ratelimited=True) > emu.call_count("chat.postMessage")

    # A client without retries gets every 429 back: the sweep delays the rows, and sends them all later.
    bare = AsyncWebClient(token=SANDBOX_TOKEN, base_url=emu.api_url)
    emu.ratelimit(every_nth=1, retry_after=30, methods={"chat.postMessage"})
    report = await _sweep(stack, t0, at=timedelta(days=2, hours=1), client=bare)
    assert report.outcomes["delayed"] == 4 and report.sent == 0
    async with stack.deps.session() as s:
        rows = (await s.exec(select(Reminder).where(Reminder.kind == "due_soon"))).all()
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    emu.ratelimit(None)
    assert (await _sweep(stack, t0, at=timedelta(days=2, hours=1, seconds=29), client=bare)).sent == 0
    assert (await _sweep(stack, t0, at=timedelta(days=2, hours=1, seconds=30), client=bare)).sent == 4
    assert all(len(stack.driver.dms(o)) == 2 for o in owners)
    # what /metrics says of it: the outcomes of the sweeps, and what is still waiting
    sample = stack.deps.metrics.registry.get_sample_value
    assert sample("retro_reminders_total", {"result": "delayed"}) == 4
    assert (sample("retro_reminders_total", {"result": "sent"}) or 0) >= 4
    async with stack.deps.session() as s:
        waiting = len((await s.exec(select(Reminder).where(col(Reminder.status).in_(("pending", "claimed"))))).all())
    assert waiting > 0 and sample("retro_reminders_pending") == waiting


async def test_status_update_and_triage_prompts_in_the_channel(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Payments model outage", options="sev=1 type=infrastructure")
    await run(stack, "alice", f"#{incident.channel_name}", "role scribe @bob")
    await _sweep(stack, t0, at=timedelta(minutes=15))
    thread = drv.thread(incident.channel_name, incident.card_ts or "")
    prompt = thread[-1]
    assert "the triage template still misses" in prompt["text"] and drv.user("bob").id in prompt["text"]
    await drv.click("bob", action_id=ActionId.OPEN_TRIAGE, channel=incident.channel_name, message_ts=prompt["ts"],
                    value=str(incident.id))
    await stack.settle()
    assert drv.views_open_for("bob")[-1]["callback_id"] == "retro_triage"
    await _sweep(stack, t0, at=timedelta(minutes=30))
    top = [m for m in drv.messages(incident.channel_name, include_threads=False) if "no status update" in m["text"]]
    assert len(top) == 1 and drv.user("alice").id in top[0]["text"] and "SEV1: every 30 min" in top[0]["text"]
    t0.current = T0 + timedelta(minutes=40)
    await drv.post("alice", f"#{incident.channel_name}", "Update: rolled back the model, error rate recovering")
    await stack.settle()
    await _sweep(stack, t0, at=timedelta(minutes=69))
    assert len([m for m in drv.messages(incident.channel_name) if "no status update" in m["text"]]) == 1
    await _sweep(stack, t0, at=timedelta(minutes=70))
    assert len([m for m in drv.messages(incident.channel_name) if "no status update" in m["text"]]) == 2
    assert "triage template still misses" in texts(drv.thread(incident.channel_name, incident.card_ts or ""))


async def test_the_home_tab_follows_incident_changes(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await run(stack, "alice", f"#{incident.channel_name}", "role ml-owner @dave")
    await drv.open_home("dave")
    await stack.settle()
    assert "*SEV3*" in str(drv.home_view("dave"))
    scheduler = ReminderScheduler(stack.deps, stack.bolt.client)
    await scheduler.tick()  # the first look only remembers what it saw
    await run(stack, "alice", f"#{incident.channel_name}", "sev 1 wider impact")
    await scheduler.tick()
    await stack.settle()
    assert "*SEV1*" in str(drv.home_view("dave")) and "*SEV1*" in str(drv.home_view("alice"))
    await scheduler.stop()


async def test_the_weekly_digest_joins_its_channel_and_posts_once(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    stack.deps.catalog = catalog_with(digest={"channel": "ml-followups"})
    stack.emulator.create_channel("ml-followups", creator="alice")
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await run(stack, "alice", f"#{incident.channel_name}", "action Backfill labels owner=@bob due=2026-03-03")
    await run(stack, "alice", f"#{incident.channel_name}", "action Drift monitor owner=@carol due=2026-03-20")
    t0.current = T0 + timedelta(days=7)
    first, second = ReminderScheduler(stack.deps, stack.bolt.client), ReminderScheduler(stack.deps,
                                                                                         stack.bolt.client)
    assert (await first.digest()).sent == 1 and (await second.digest()).sent == 0
    await stack.settle()
    (post,) = drv.bot_messages("#ml-followups")
    blocks = str(post["blocks"])
    assert "Overdue (1)" in blocks and "Open (1)" in blocks and "6 days overdue" in blocks
    assert blocks.index("Backfill labels") < blocks.index("Drift monitor")
