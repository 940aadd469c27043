"""Real `retro serve` processes: kill -9 mid-stream, SIGTERM, and two replicas on one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import col, func, select

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN
from bot.incident import incidents
from bot.record import chain
from sandbox import SlackDriver, SlackEmulator
from storage.db import create_engine, session_factory
from storage.models import Evidence, Hypothesis, Incident, TimelineEntry
from tests.e2e.faults import signed_post
from tests.payloads import message_event
from tests.processes import free_port, spawn_serve, wait_http

ROOT = Path(__file__).resolve().parents[2]
TEAM = "T0SANDBOX"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


async def start(emu: SlackEmulator, db: str, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    proc = spawn_serve(port=port, api_url=emu.api_url, database_url=db, cwd=ROOT,
                       extra_env={"RETRO_SCHEDULER": "false"})
    await wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, f"http://127.0.0.1:{port}/slack/events"


async def declare(emu: SlackEmulator, url: str, db: str) -> Incident:
    emu.events_url = url
    result = await SlackDriver(emu).command("alice", "#general", "start Replica drill sev=3 type=infrastructure")
    assert result.ok
    await result.replies()
    for _ in range(100):
        async with session_factory(engine := create_engine(db))() as s:
            found = await incidents.open_incidents(s, TEAM)
        await engine.dispose()
        if found and found[0].card_ts:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError("incident was not declared")


post = signed_post


async def chain_state(db: str, incident_id: int) -> dict[str, Any]:
    engine = create_engine(db)
    try:
        async with session_factory(engine)() as s:
            inc = await s.get(Incident, incident_id)
            assert inc is not None
            report = await chain.verify_incident(s, inc)
            texts = (await s.exec(select(TimelineEntry.text).where(
                TimelineEntry.incident_id == incident_id, col(TimelineEntry.text).startswith("obs ")))).all()
            evidence = (await s.exec(select(Evidence.number).where(Evidence.incident_id == incident_id))).all()
            hyps = (await s.exec(select(Hypothesis.number).where(Hypothesis.incident_id == incident_id))).all()
            notes = (await s.exec(select(func.count()).select_from(TimelineEntry).where(
                TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "note"))).one()
            return {"report": report, "texts": [t or "" for t in texts], "evidence": sorted(evidence),
                    "hypotheses": sorted(hyps), "notes": int(notes), "incident": inc}
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(emulator: SlackEmulator,
                                                                       database_url: str) -> None:
    port = free_port()
    proc, url = await start(emulator, database_url, port)
    incident = await declare(emulator, url, database_url)
    assert incident.id is not None
    bodies = [message_event(i, team=TEAM, channel=incident.channel_id, user="U0BOB", run="K") for i in range(1000)]
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)

    async def sender(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            statuses[i] = await post(http, url, bodies[i])

    async def killer() -> None:
        while sum(1 for s in statuses.values() if s == 200) < 400:
            await asyncio.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(killer(), *(sender(http) for _ in range(8)))
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        refused = [i for i, s in statuses.items() if s != 200]
        assert refused, "the kill happened after the stream ended; nothing was tested"
        proc, url = await start(emulator, database_url, port)
        try:
            # Slack re-delivers everything that did not get a 200, and sometimes what did (retries).
            again = refused + [i for i, s in statuses.items() if s == 200][::10]
            codes = [await post(http, url, bodies[i], retry=1) for i in again]
            assert set(codes) == {200}
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    state = await chain_state(database_url, incident.id)
    assert state["report"].ok, state["report"]
    numbers = sorted(int(t.split(":")[0].removeprefix("obs ")) for t in state["texts"])
    assert numbers == list(range(1000))


@pytest.mark.slow
async def test_sigterm_finishes_in_flight_work_and_exits_zero(emulator: SlackEmulator, database_url: str) -> None:
    proc, url = await start(emulator, database_url)
    incident = await declare(emulator, url, database_url)
    bodies = [message_event(i, team=TEAM, channel=incident.channel_id, user="U0BOB", run="T") for i in range(200)]
    async with aiohttp.ClientSession() as http:
        sends = [asyncio.create_task(post(http, url, b)) for b in bodies]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*sends)
        await asyncio.to_thread(proc.wait, 10)
    assert proc.returncode == 0 and time.monotonic() - started < 10
    acked = {i for i, c in enumerate(codes) if c == 200}
    state = await chain_state(database_url, incident.id or 0)
    recorded = {int(t.split(":")[0].removeprefix("obs ")) for t in state["texts"]}
    assert acked <= recorded, "an acknowledged event was lost on shutdown"
    assert state["report"].ok


async def sink() -> tuple[web.AppRunner, str]:
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


def command(text: str, channel: str, hook: str, n: int) -> str:
    return urlencode({"token": "t", "team_id": TEAM, "team_domain": "sandbox", "channel_id": channel,
                      "channel_name": "inc", "user_id": "U0ALICE", "user_name": "alice", "command": "/retro",
                      "text": text, "api_app_id": "A0SANDBOX", "response_url": hook, "trigger_id": f"t{n}"})


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_replicas_on_one_postgres_behave_as_one_bot(emulator: SlackEmulator, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share state through PostgreSQL; this variant runs on PostgreSQL only")
    (a, url_a), (b, url_b) = await start(emulator, database_url), await start(emulator, database_url)
    runner, hook = await sink()
    try:
        incident = await declare(emulator, url_a, database_url)
        assert incident.id is not None
        events = [message_event(i, team=TEAM, channel=incident.channel_id, user="U0CAROL", run="P")
                  for i in range(300)]
        cmds = [command(f"evidence log https://logs.example.com/{i}", incident.channel_id, hook, i) for i in range(40)]
        cmds += [command(f"hypothesis cause number {i}", incident.channel_id, hook, 100 + i) for i in range(40)]
        cmds += [command(f"note replica note {i}", incident.channel_id, hook, 200 + i) for i in range(40)]
        async with aiohttp.ClientSession() as http:
            jobs = []
            for i, body in enumerate(events):  # each event to one replica, and its duplicate to the other
                first, second = (url_a, url_b) if i % 2 else (url_b, url_a)
                jobs += [post(http, first, body), post(http, second, body, retry=1)]
            jobs += [post(http, url_a if i % 2 else url_b, c, form=True) for i, c in enumerate(cmds)]
            codes = await asyncio.gather(*jobs)
        assert set(codes) == {200}
        deadline = time.monotonic() + 30
        while True:
            state = await chain_state(database_url, incident.id)
            done = len(state["evidence"]) >= 40 and len(state["hypotheses"]) >= 40 and state["notes"] >= 40
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        for proc in (a, b):
            proc.terminate()
            proc.wait(timeout=15)
        await runner.cleanup()
    assert state["report"].ok, state["report"]
    assert sorted(int(t.split(":")[0].removeprefix("obs ")) for t in state["texts"]) == list(range(300))
    assert state["evidence"] == list(range(1, 41)) and state["hypotheses"] == list(range(1, 41))
    assert state["notes"] == 40


@pytest.mark.postgres
async def test_replicas_migrating_at_once_do_not_collide(blank_postgres_url: str) -> None:
    """Concurrent migrations matter for shared PostgreSQL only; they start from a database with no tables."""
    database_url = blank_postgres_url
    env = {**os.environ, "DATABASE_URL": database_url}
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "db", "upgrade", cwd=ROOT, env=env,
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
             for _ in range(3)]
    results = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1].decode()[-500:] for r in results]
    from storage.migrate import current_revision, head_revision

    assert await current_revision(database_url) == head_revision()


async def test_metrics_port_serves_metrics_and_the_slack_port_does_not(emulator: SlackEmulator,
                                                                        database_url: str) -> None:
    port, metrics_port = free_port(), free_port()
    proc = spawn_serve(port=port, api_url=emulator.api_url, database_url=database_url, cwd=ROOT,
                       extra_env={"RETRO_SCHEDULER": "false", "RETRO_METRICS_PORT": str(metrics_port),
                                  "RETRO_METRICS_TOKEN": ""})
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200 and "retro_requests_total" in await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 404
            async with http.get(f"http://127.0.0.1:{metrics_port}/slack/events") as resp:
                assert resp.status == 404  # the metrics port serves metrics alone
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
