"""The weekly digest goes to a channel id: a configured name is looked up once, an unknown one fails once, named."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.app.local import LocalStack
from bot.app.scheduler import ReminderScheduler
from bot.slack.sweep import sweep
from sandbox.state import Channel
from storage.models import Reminder
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, run
from tests.reminder_world import T0, catalog_with


async def _open_item(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await run(stack, "alice", f"#{incident.channel_name}", "action Backfill labels owner=@bob due=2026-03-03")


async def _digests(stack: LocalStack) -> list[Reminder]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Reminder).where(Reminder.kind == "digest"))).all())


async def test_a_configured_name_is_looked_up_once_and_the_digest_posted_by_id(clocked: LocalStack,
                                                                               t0: FakeClock) -> None:
    stack, ws = clocked, clocked.driver.ws
    stack.deps.catalog = catalog_with(digest={"channel": "#ML-Incidents"})
    for n in range(250):  # enough public channels that conversations.list takes more than one page
        ws.add_channel(Channel(id=f"C9{n:07d}", name=f"team-{n}", created=int(time.time()), creator="U0ALICE",
                               members=["U0ALICE"]))
    target = stack.emulator.create_channel("ml-incidents", creator="alice")
    await _open_item(stack)
    t0.current = T0 + timedelta(days=7)
    assert (await ReminderScheduler(stack.deps, stack.bolt.client).digest()).sent == 1
    listed = len(stack.emulator.calls_for("conversations.list"))
    assert listed >= 2
    t0.current = T0 + timedelta(days=14)
    assert (await ReminderScheduler(stack.deps, stack.bolt.client).digest()).sent == 1
    await stack.settle()
    assert len(stack.emulator.calls_for("conversations.list")) == listed  # resolved once
    assert len(stack.driver.bot_messages(target)) == 2
    sent_to = [str(c.params.get("channel")) for c in stack.emulator.calls_for("chat.postMessage")]
    assert target in sent_to and not [c for c in sent_to if c.lstrip("#").lower() == "ml-incidents"]


async def test_an_unknown_name_fails_the_digest_once_and_says_which(clocked: LocalStack, t0: FakeClock,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    stack = clocked
    stack.deps.catalog = catalog_with(digest={"channel": "#ml-incidnets"})
    await _open_item(stack)
    t0.current = T0 + timedelta(days=7)
    scheduler = ReminderScheduler(stack.deps, stack.bolt.client)
    with caplog.at_level(logging.WARNING, logger="retro.reminders"):
        report = await scheduler.digest()
    assert report.sent == 0 and report.outcomes["failed"] == 1
    assert [r for r in caplog.records if r.levelno >= logging.WARNING and "ml-incidnets" in r.getMessage()]
    (row,) = await _digests(stack)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error and "ml-incidnets" in row.last_error and "channel_not_found" in row.last_error
    listed = len(stack.emulator.calls_for("conversations.list"))
    t0.current = T0 + timedelta(days=7, hours=6)
    await scheduler.digest()
    await sweep(stack.deps, stack.bolt.client, now=t0())
    (again,) = await _digests(stack)
    assert again.status == "failed" and again.attempts == 1  # not retried
    assert len(stack.emulator.calls_for("conversations.list")) == listed
