"""Faults: Slack answering 429 all through a scripted incident; the database going away, or locked, mid-incident.

What each scenario guarantees is summarised in docs/operations.md ("Failure behaviour").
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import col, func, select

from bot.app.demo import Player, ScriptClock, export_bundle
from bot.app.demo_script import DECLARE, SCRIPT, START
from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN, LocalStack, local_stack, manifest_events
from bot.record import chain
from bot.slack.sweep import sweep
from sandbox import CommandResult, SlackDriver, SlackEmulator
from storage import db
from storage.models import ActionItem, Incident, PostmortemDraft, ProcessedEvent, Reminder
from tests.databases import sqlite_file
from tests.e2e.dbproxy import DatabaseProxy
from tests.e2e.faults import (
    METERED,
    TEAM,
    WriteLock,
    chain_texts,
    declared,
    http_status,
    metrics_of,
    obs_numbers,
    signed_post,
    stored,
    until,
    verifies,
    waited_out,
)
from tests.e2e.helpers import declare
from tests.payloads import message_event
from tests.processes import free_port, spawn_serve, wait_http

ROOT = Path(__file__).resolve().parents[2]

RETRY_AFTER = 0.05  # seconds; Slack sends whole seconds, the sandbox allows fractions to keep this fast
SWEEP_AT = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)  # A1 (due +3d) is overdue, A2 and A4 (+1w) are due soon
# Every message the bot posts in the incident channel during the scripted incident, each exactly once.
CHANNEL_POSTS = (
    "Incident: Fraud scorer precision drop", "Roles for this incident", "is now *Scribe*", "is now *ML owner*",
    "is now *Data owner*", "is now *Communications*", "submitted triage template v1.",
    "*H1* proposed", "will test *H1*", "*H2* proposed", "will test *H2*", "*H3* proposed", "will test *H3*",
    "*H1* refuted", "*H2* refuted", "*H3* confirmed", "set the status to *mitigated*",
    "*A1* `monitor`", "*A2* `guardrail`", "*A3* `test`", "*A4* `process`", "set the status to *resolved*",
    "Postmortem draft v1 for", "Postmortem draft v1 (Markdown)",
)


async def play_with_sweep(stack: LocalStack, clock: ScriptClock) -> tuple[Incident, int]:
    """The demo's scripted incident, with a reminder sweep before the closing postmortem; returns reminders sent."""
    player = Player(stack, clock, io.StringIO())
    before = set(stack.emulator.state.channels)
    await player.command("alice", "#general", DECLARE)
    (player.channel,) = [c.name for c in stack.emulator.state.channels.values() if c.id not in before]
    *steps, closing = SCRIPT
    assert closing.kind == "postmortem"
    for step in steps:
        await player.step(step)
    clock.current = SWEEP_AT
    sent = (await sweep(stack.deps, stack.bolt.client, now=clock())).sent
    await stack.settle()
    assert (await sweep(stack.deps, stack.bolt.client, now=clock())).sent == 0
    await player.step(closing)
    async with stack.deps.session() as s:
        incident = (await s.exec(select(Incident).where(Incident.channel_name == player.channel))).one()
    return incident, sent


@pytest.mark.slow
async def test_every_third_slack_call_rate_limited_and_everything_arrives_exactly_once(
        database_url: str, tmp_path: Path) -> None:
    clock = ScriptClock(START)
    async with local_stack(database_url=database_url, clock=clock, env=METERED) as stack:
        emu, drv = stack.emulator, stack.driver
        emu.ratelimit(every_nth=3, retry_after=RETRY_AFTER)
        incident, swept = await play_with_sweep(stack, clock)
        await stack.settle()
        emu.ratelimit(None)
        limited = [c for c in emu.calls if c.ratelimited]
        assert len(limited) >= 25, "the scenario hit too few 429s to mean anything"
        assert waited_out(emu.calls, RETRY_AFTER) == []
        base = stack.events_url.rsplit("/slack/events", 1)[0]
        async with aiohttp.ClientSession() as http:
            counted = await metrics_of(http, base, "retro_slack_api_ratelimited_total")
        assert {labels[0][1]: int(v) for labels, v in counted.items()} == Counter(c.method for c in limited)
        # Slack never had to re-deliver an event: every ack came at once, whatever the bot's calls waited for.
        delivered = [d for d in emu.deliveries if not d.dropped]
        late = [(d.type, d.payload.get("event"), d.statuses) for d in delivered if d.statuses != [200]]
        assert delivered and not late

        # The incident channel: each bot post once, and each one is in the chain under its ts.
        posts = drv.bot_messages(incident.channel_name)
        for marker in CHANNEL_POSTS:
            assert sum(marker in str(m.get("text")) for m in posts) == 1, marker
        assert len(posts) == len(CHANNEL_POSTS) == len({m["ts"] for m in posts})
        async with stack.deps.session() as s:
            entries = await chain.entries_of(s, incident.id or 0)
            actions = (await s.exec(select(ActionItem).order_by(col(ActionItem.number)))).all()
            sent_rows = (await s.exec(select(Reminder).where(Reminder.status == "sent"))).all()
            drafts = (await s.exec(select(func.count()).select_from(PostmortemDraft))).one()
            report = await chain.verify_incident(s, incident)
        recorded = Counter(e.slack_ts for e in entries if e.kind == "bot_message")
        assert set(recorded.values()) == {1}
        assert set(recorded) == {m["ts"] for m in posts if not m.get("files")}
        assert len(drv.bot_messages("#general")) == 1
        assert report.ok, report

        # DMs: one per reminder row that was sent (assignments and the sweep's), none twice, none unaccounted.
        dms = [m for user in ("alice", "bob", "carol", "dave", "erin") for m in drv.bot_messages("@" + user)]
        by_row = Counter(m["metadata"]["event_payload"]["reminder_id"] for m in dms)
        assert set(by_row.values()) == {1} and set(by_row) == {r.id for r in sent_rows}
        kinds = Counter(r.kind for r in sent_rows)
        assert kinds["assigned"] == len(actions) == 4 and swept == len(sent_rows) - 4 >= 3, kinds
        for item in actions:
            owner = drv.user(item.owner or "").name
            assert sum(f"New action item A{item.number}:" in str(m.get("text")) for m in drv.dms(owner)) == 1
        reminded = Counter(str(m["text"]).split()[1] for m in dms if str(m.get("text")).startswith("Reminder:"))
        assert reminded == {"A1": 1, "A2": 1, "A4": 1}
        assert sum("3 days overdue" in str(m.get("text")) for m in drv.bot_messages("@alice")) == 1

        # The postmortem: one draft, its two files uploaded once and shared once.
        files = [f for f in emu.state.files.values() if f.user == emu.state.bot_user_id]
        names = sorted(f.name for f in files)
        assert drafts == 1 and all(f.completed for f in files)
        assert names == sorted(f"{incident.channel_name}-{s}" for s in ("postmortem.md", "timeline.png"))
        (shared,) = [m for m in posts if m.get("files")]
        assert sorted(f["name"] for f in shared["files"]) == names
        assert sum(e.kind == "postmortem_drafted" for e in entries) == 1
        bundle = await export_bundle(stack, incident, tmp_path / "bundle")
        assert bundle.verified and bundle.entries == len(entries)


# --- PostgreSQL goes away for five seconds ---------------------------------------------------------------------

OUTAGE_SECONDS = 5.0


@pytest.mark.postgres
@pytest.mark.slow
async def test_postgres_outage_refuses_events_then_recovers_without_a_restart(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage runs on PostgreSQL; the SQLite scenarios below hold its lock instead")
    proxy = DatabaseProxy(database_url)  # the bot reaches the database only through it
    await proxy.start()
    emu = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN, event_subscriptions=manifest_events())
    await emu.start()
    drv, port = SlackDriver(emu), free_port()
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/slack/events"
    proc = spawn_serve(port=port, api_url=emu.api_url, database_url=proxy.proxied_url, cwd=ROOT)
    try:
        await wait_http(f"{base}/healthz")
        emu.events_url = url
        incident = await declared(drv, database_url, "Database outage drill")
        bodies = [message_event(i, team=TEAM, channel=incident.channel_id, user="U0BOB", run="DB")
                  for i in range(300)]
        event_ids = [json.loads(b)["event_id"] for b in bodies]
        statuses: dict[int, int] = {}
        todo = iter(range(len(bodies)))
        async with aiohttp.ClientSession() as http:

            async def sender() -> None:
                for i in todo:
                    statuses[i] = await signed_post(http, url, bodies[i])
                    if i == 100:  # mid-stream, the database goes away under the bot
                        proxy.cut()

            async def during_outage() -> tuple[int, int, CommandResult]:
                while proxy.up:
                    await asyncio.sleep(0.01)
                note = await drv.command("alice", incident.channel_name, "note written in the outage")
                return await http_status(http, f"{base}/healthz"), await http_status(http, f"{base}/readyz"), note

            started = time.monotonic()
            watcher = asyncio.create_task(during_outage())
            await asyncio.gather(*(sender() for _ in range(4)))
            health, ready, note = await watcher
            assert health == 503 and ready == 503
            assert note.ok  # acknowledged; then the person is told it did not go through
            await until(lambda: "can't reach its database right now" in note.text(), "the error reply")
            acked = {i for i, code in statuses.items() if code == 200}
            refused = sorted(set(statuses) - acked)
            assert len(acked) >= 90 and refused  # a few in flight at the cut may have been refused
            assert {statuses[i] for i in refused} == {500}, Counter(statuses.values())  # Slack retries a 5xx
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
            assert await http_status(http, f"{base}/healthz") == 503

            # Nothing half-written: an event is in the chain together with its claim, or not at all.
            texts, claimed, _ = await stored(database_url, incident.id or 0)
            numbers = obs_numbers(texts)
            assert {event_ids[n] for n in numbers} == claimed & set(event_ids)
            assert acked <= set(numbers)

            await proxy.restore()
            back = time.monotonic()
            await wait_http(f"{base}/healthz", timeout=15)
            recovered = time.monotonic() - back
            assert [await http_status(http, f"{base}/{probe}") for probe in ("healthz", "readyz")] == [200, 200]
            assert proc.poll() is None, "the bot exited instead of recovering"
            # Slack re-delivers what got no 200 (and, now and then, what did), with X-Slack-Retry-Num.
            again = refused + sorted(acked)[::10]
            assert set(await asyncio.gather(*(signed_post(http, url, bodies[i], retry=1) for i in again))) == {200}
            assert set(await asyncio.gather(*(signed_post(http, url, bodies[i], retry=2)
                                              for i in refused[:20]))) == {200}
            after = await drv.command("alice", incident.channel_name, "note written after the outage")
            await until(lambda: "Noted as key event" in after.text(), "the note's confirmation")
            errors = await metrics_of(http, base, "retro_database_errors_total")
        assert recovered < 10 and sum(errors.values()) >= len(refused)
        texts, _, report = await stored(database_url, incident.id or 0)
        assert obs_numbers(texts) == list(range(len(bodies))), "an event was lost or recorded twice"
        assert texts["written after the outage"] == 1 and texts["written in the outage"] == 0
        assert report.ok, report
        verify = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "bot", "verify", incident.channel_name], cwd=ROOT,
            capture_output=True, text=True, timeout=60, env={**os.environ, "DATABASE_URL": database_url})
        assert verify.returncode == 0 and verify.stdout.startswith("OK"), verify.stdout + verify.stderr
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 15)
        await proxy.close()
        await emu.stop()


# --- SQLite: another connection holds the write lock -----------------------------------------------------------

LOCK_SECONDS = 4.0  # longer than Slack waits for an answer (3 s), shorter than the busy timeout (10 s)


@pytest.mark.slow
async def test_sqlite_write_lock_delays_events_and_commands_without_losing_any(sqlite_database_url: str) -> None:
    path = sqlite_file(sqlite_database_url)
    async with local_stack(database_url=sqlite_database_url, env=METERED) as stack:
        drv, base = stack.driver, stack.events_url.rsplit("/slack/events", 1)[0]
        incident, _ = await declare(stack, "Locked database drill", options="sev=3 type=infrastructure")
        channel = incident.channel_name
        for n in range(3):
            await drv.post("bob", channel, f"before the lock {n}")
        await stack.settle()
        body = message_event(1, team=TEAM, channel=incident.channel_id, user="U0DAVE", run="LOCK")
        first = len(stack.emulator.deliveries)
        async with aiohttp.ClientSession() as http:
            async with WriteLock(path):
                locked = time.monotonic()
                for n in range(5):
                    await drv.post("carol", channel, f"during the lock {n}")
                waiting = asyncio.create_task(signed_post(http, stack.events_url, body))
                note = await drv.command("alice", channel, "note written during the lock")
                assert note.ok and note.ack_seconds < 3  # acknowledged first; the work waits for the lock
                assert await http_status(http, f"{base}/healthz") == 200  # readers are not blocked in WAL mode
                await asyncio.sleep(LOCK_SECONDS - (time.monotonic() - locked))
                assert not waiting.done(), "an event was answered before it could be recorded"
            assert await waiting == 200
            await stack.settle()
        deliveries = [d for d in stack.emulator.deliveries[first:] if not d.dropped]
        assert deliveries and all(d.delivered for d in deliveries)
        assert any(len(d.attempts) > 1 for d in deliveries), "Slack never had to retry: the lock was too short"
        texts = await chain_texts(stack, incident.id or 0)
        for text in [f"before the lock {n}" for n in range(3)] + [f"during the lock {n}" for n in range(5)]:
            assert texts[text] == 1, text
        assert obs_numbers(texts) == [1] and texts["written during the lock"] == 1
        assert "Noted as key event" in note.text()
        assert await verifies(stack, incident.id or 0)


@pytest.mark.slow
async def test_sqlite_lock_outlasting_the_busy_timeout_fails_cleanly_then_recovers(
        sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # stands in for the 10 s default, to keep this short
    path = sqlite_file(sqlite_database_url)
    async with local_stack(database_url=sqlite_database_url, env=METERED) as stack:
        base = stack.events_url.rsplit("/slack/events", 1)[0]
        incident, _ = await declare(stack, "Lock outlasting the timeout", options="sev=3 type=infrastructure")
        bodies = [message_event(i, team=TEAM, channel=incident.channel_id, user="U0DAVE", run="BUSY")
                  for i in range(6)]
        ids = {json.loads(b)["event_id"] for b in bodies}
        async with aiohttp.ClientSession() as http:
            assert await signed_post(http, stack.events_url, bodies[0]) == 200
            async with WriteLock(path):
                codes = await asyncio.gather(*(signed_post(http, stack.events_url, b) for b in bodies[1:]))
                note = await stack.driver.command("alice", incident.channel_name, "note lost to the lock")
                await stack.settle()
                async with stack.deps.session() as s:
                    claimed = set((await s.exec(select(ProcessedEvent.event_id))).all()) & ids
            assert set(codes) == {500}  # Slack delivers them again later
            assert note.ok and "can't reach its database right now" in note.text()
            assert claimed == {json.loads(bodies[0])["event_id"]}
            assert await http_status(http, f"{base}/healthz") == 200
            again = await asyncio.gather(*(signed_post(http, stack.events_url, b, retry=1) for b in bodies))
            assert set(again) == {200}
            errors = await metrics_of(http, base, "retro_database_errors_total")
        assert sum(errors.values()) >= len(bodies) - 1
        texts = await chain_texts(stack, incident.id or 0)
        assert obs_numbers(texts) == list(range(len(bodies))) and texts["lost to the lock"] == 0
        assert await verifies(stack, incident.id or 0)
