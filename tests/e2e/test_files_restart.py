"""A real `retro serve` killed after it acked a shared file and before it downloaded it: the next process hashes the
file, exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN, manifest_events
from bot.incident import incidents
from bot.record import chain
from sandbox import SlackDriver, SlackEmulator
from storage.db import create_engine, session_factory
from storage.models import Incident, TimelineEntry
from tests.processes import free_port, spawn_serve, wait_http

ROOT = Path(__file__).resolve().parents[2]
DATA = b"step,loss\n1,0.91\n2,0.47\n3,0.12\n"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN, event_subscriptions=manifest_events())
    await emu.start()
    yield emu
    await emu.stop()


async def serve(emu: SlackEmulator, db: str, *, scheduler: bool) -> subprocess.Popen[bytes]:
    """`retro serve` on the sandbox, trusting its file host; Slack's events go to it from now on."""
    port = free_port()
    proc = spawn_serve(port=port, api_url=emu.api_url, database_url=db, cwd=ROOT,
                       extra_env={"RETRO_SCHEDULER": str(scheduler).lower(), "RETRO_FILE_HOSTS": emu.base_url})
    await wait_http(f"http://127.0.0.1:{port}/healthz")
    emu.events_url = f"http://127.0.0.1:{port}/slack/events"
    return proc


async def file_entries(db: str) -> tuple[Incident | None, list[TimelineEntry]]:
    """The open incident and its file_hashed entries."""
    engine = create_engine(db)
    try:
        async with session_factory(engine)() as s:
            found = await incidents.open_incidents(s, "T0SANDBOX")
            if not found:
                return None, []
            rows = await s.exec(select(TimelineEntry).where(TimelineEntry.incident_id == found[0].id,
                                                            TimelineEntry.kind == "file_hashed"))
            return found[0], list(rows.all())
    finally:
        await engine.dispose()


async def eventually(db: str, what: str, check: Callable[[Incident | None, list[TimelineEntry]], object],
                     timeout: float = 30.0) -> None:
    """Poll the database until `check(incident, file entries)` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        incident, rows = await file_entries(db)
        if check(incident, rows):
            return
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_file_acked_before_a_crash_is_hashed_once_after_restart(emulator: SlackEmulator,
                                                                      database_url: str) -> None:
    first = await serve(emulator, database_url, scheduler=False)
    try:
        declared = await SlackDriver(emulator).command("alice", "#general",
                                                       "start Loss spike sev=2 type=model-regression")
        assert declared.ok
        await declared.replies()
        await eventually(database_url, "the incident", lambda inc, _: inc is not None and inc.card_ts)
        incident, _ = await file_entries(database_url)
        assert incident is not None
        # files.info answers 429 with a long Retry-After: the bot acks the message, then waits before downloading.
        emulator.ratelimit(1, retry_after=120, methods={"files.info"})
        file_id = await SlackDriver(emulator).share_file("alice", f"#{incident.channel_name}", "loss.csv", DATA)
        for _ in range(300):
            if emulator.calls_for("files.info"):
                break
            await asyncio.sleep(0.05)
        shared = [d for d in emulator.deliveries if (d.payload.get("event") or {}).get("files")]
        assert len(shared) == 1 and shared[0].statuses == [200]  # acked
        assert emulator.calls_for("files.info")[0].params["file"] == file_id
    finally:
        first.kill()  # SIGKILL: no shutdown of any kind
        first.wait()
    emulator.ratelimit(None)
    assert emulator.hosted.served == [] and (await file_entries(database_url))[1] == []

    second = await serve(emulator, database_url, scheduler=True)
    try:
        await eventually(database_url, "the file's digest", lambda _, rows: len(rows) == 1)
    finally:
        second.terminate()
        second.wait(timeout=30)
    incident, rows = await file_entries(database_url)
    assert incident is not None and [r.data["sha256"] for r in rows] == [hashlib.sha256(DATA).hexdigest()]
    assert rows[0].data["file"]["id"] == file_id and rows[0].actor == "U0ALICE"
    assert emulator.hosted.served == [file_id]
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            assert (await chain.verify_incident(s, incident)).ok
            conn = await s.connection()
            pending = (await conn.execute(text("SELECT file_id, status FROM pending_file_hash"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in pending] == [(file_id, "done")]
