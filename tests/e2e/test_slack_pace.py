"""Slack's pace, always on in the sandbox: about one post a second per channel after a short burst, 429s past it.

Busy channels and busy people still get every message, and Retro keeps to the pace instead of running into it.
Pacing does not depend on the database: these run on SQLite only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app.local import LocalStack, local_stack
from bot.slack.sweep import sweep
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, many_open_items
from tests.reminder_world import ALICE, BOB

PEOPLE = 16  # more posts than Slack's burst and pace let through in the ~10 s that five quick retries last


@pytest.fixture
async def paced(sqlite_database_url: str, t0: FakeClock) -> AsyncIterator[LocalStack]:
    """The local stack on SQLite and the test's clock."""
    async with local_stack(database_url=sqlite_database_url, clock=t0) as stack:
        yield stack


async def test_sixteen_hypotheses_proposed_at_once_all_reach_the_channel(paced: LocalStack) -> None:
    stack, drv = paced, paced.driver
    incident, _ = await declare(stack, "Ranking drift", options="sev=2 type=data-drift")
    channel = f"#{incident.channel_name}"
    results = await asyncio.gather(*(drv.command("alice", channel, f"hypothesis Claim{n:02d} the join went stale")
                                     for n in range(PEOPLE)))
    assert all(r.ok for r in results)
    await stack.settle(timeout=60)
    posts = [str(m.get("text")) for m in drv.bot_messages(incident.channel_name)]
    for n in range(PEOPLE):
        assert sum(f"Claim{n:02d}" in text for text in posts) == 1, n
    assert not [r.text() for r in results if ":x:" in r.text() or ":warning:" in r.text()]  # no one told of an error


async def test_a_sweep_of_many_reminders_to_one_person_keeps_to_the_pace(paced: LocalStack, t0: FakeClock) -> None:
    stack, drv, emu = paced, paced.driver, paced.emulator
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await many_open_items(stack, incident, 6, owner=BOB, actor=ALICE)  # six assignments to tell Bob of
    before = len(emu.calls)
    report = await sweep(stack.deps, stack.bolt.client, now=t0())
    await stack.settle()
    assert report.sent == 6 and len(drv.dms("bob")) == 6
    dms = [c for c in emu.calls[before:] if c.method == "chat.postMessage"]
    assert len(dms) == 6 and not [c for c in dms if c.ratelimited]  # paced, not refused and retried
