"""A digest split over a thread that fails part-way is finished on retry: its first part and every item once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.app.local import SANDBOX_TOKEN, LocalStack
from bot.app.scheduler import ReminderScheduler
from bot.slack.sweep import deliver_now
from storage.models import Reminder
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, many_open_items
from tests.reminder_world import ALICE, BOB, T0, catalog_with


async def test_a_digest_whose_reply_failed_resumes_in_its_thread(clocked: LocalStack, t0: FakeClock) -> None:
    stack, drv, emu = clocked, clocked.driver, clocked.emulator
    stack.deps.catalog = catalog_with(digest={"channel": "ml-followups"})
    emu.create_channel("ml-followups", creator="alice", members=["retro"])
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await many_open_items(stack, incident, 200, owner=BOB, actor=ALICE)
    t0.current = T0 + timedelta(days=7)
    bare = AsyncWebClient(token=SANDBOX_TOKEN, base_url=emu.api_url)  # hands every 429 back to the reminder
    emu.ratelimit(every_nth=2, retry_after=1, methods={"chat.postMessage"})  # the first reply is refused once
    report = await ReminderScheduler(stack.deps, bare).digest()
    assert report.outcomes["delayed"] == 1 and report.sent == 0
    assert len(drv.bot_messages("#ml-followups")) == 1
    emu.ratelimit(None)

    t0.current += timedelta(seconds=2)
    async with stack.deps.session() as session:
        (row,) = (await session.exec(select(Reminder).where(Reminder.kind == "digest"))).all()
    # Only the digest: the 200 items' other reminders are 200 DMs to one person, minutes at Slack's pace.
    report = await deliver_now(stack.deps, stack.bolt.client, [row.id], now=t0())
    assert report.sent == 1
    await stack.settle()
    posts = drv.bot_messages("#ml-followups")
    firsts = [m for m in posts if m.get("thread_ts") in (None, m["ts"])]
    assert len(firsts) == 1 and "part 1 of" in firsts[0]["text"]
    replies = [m for m in posts if m not in firsts]
    assert len(replies) >= 2 and all(m["thread_ts"] == firsts[0]["ts"] for m in replies)
    seen = Counter(int(n) for m in posts for n in re.findall(r"Task(\d{3})", str(m["blocks"])))
    assert sorted(seen) == list(range(1, 201)) and set(seen.values()) == {1}
    parts = [int(re.search(r"part (\d+) of", m["text"]).group(1)) for m in posts]  # type: ignore[union-attr]
    assert parts == list(range(1, len(posts) + 1))
    async with stack.deps.session() as session:
        (row,) = (await session.exec(select(Reminder).where(Reminder.kind == "digest"))).all()
    assert row.status == "sent" and row.data["thread"]["rest"] == []
