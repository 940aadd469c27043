"""Two `retro serve` processes on one PostgreSQL share a storm of alert notifications: every notice is handled,
each alert group declares one incident, whichever replica took each notification."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import func, select

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN
from sandbox import SlackEmulator
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.db import create_engine, session_factory
from storage.models import Incident
from tests.alert_payloads import am_alert, am_notification
from tests.processes import free_port, spawn_serve, stop_processes, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "replica-alert-token-0123456789"
GROUPS, PER_GROUP = 4, 15


def storm() -> list[bytes]:
    """Each group's notifications as Alertmanager sends them: every one lists the group's alerts so far."""
    bodies = []
    for k in range(1, PER_GROUP + 1):
        for g in range(GROUPS):
            alerts = [am_alert(name=f"Storm{g}", fingerprint=f"{g:04x}{i:012x}", instance=f"host-{i}")
                      for i in range(k)]
            data = am_notification(*alerts, group_key=f'{{}}:{{alertname="Storm{g}"}}')
            data["groupLabels"] = data["commonLabels"] = {"alertname": f"Storm{g}"}
            bodies.append(json.dumps(data).encode())
    return bodies


async def test_two_replicas_handle_each_notice_once_and_declare_once_per_group(postgres_database_url: str) -> None:
    url = postgres_database_url
    emulator = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN)
    await emulator.start()
    ports = [free_port(), free_port()]
    env = {"RETRO_ALERT_TOKEN": TOKEN, "RETRO_ALERT_SWEEP_SECONDS": "0.5", "RETRO_SCHEDULER": "false"}
    procs: list[subprocess.Popen[bytes]] = []
    engine = create_engine(url)
    try:
        procs = [spawn_serve(port=p, api_url=emulator.api_url, database_url=url, cwd=ROOT, extra_env=env)
                 for p in ports]
        await asyncio.gather(*(wait_http(f"http://127.0.0.1:{p}/healthz", timeout=60) for p in ports))
        gate = asyncio.Semaphore(16)

        async def send(http: aiohttp.ClientSession, i: int, raw: bytes) -> int:
            async with gate, http.post(f"http://127.0.0.1:{ports[i % 2]}/alerts/alertmanager", data=raw,
                                       headers={"Authorization": f"Bearer {TOKEN}",
                                                "Content-Type": "application/json"}) as r:
                answer = await r.json()
                assert r.status == 200 and answer["duplicate"] is False, answer
                return int(answer["notice"])

        async with aiohttp.ClientSession() as http:
            ids = await asyncio.gather(*(send(http, i, raw) for i, raw in enumerate(storm())))
        assert len(set(ids)) == GROUPS * PER_GROUP
        deadline = time.monotonic() + 180
        async with session_factory(engine)() as s:
            while (await s.exec(select(func.count()).select_from(AlertNotice)
                                .where(AlertNotice.status == "pending"))).one():
                assert time.monotonic() < deadline, "notices left pending"
                assert all(p.poll() is None for p in procs), "a replica exited"
                await asyncio.sleep(0.2)
            notices = list((await s.exec(select(AlertNotice))).all())
            groups = list((await s.exec(select(AlertGroupRow))).all())
            incidents = list((await s.exec(select(Incident))).all())
        assert {n.status for n in notices} == {"done"} and {n.attempts for n in notices} == {0}
        assert sorted(n.outcome or "" for n in notices).count("declared") == GROUPS
        assert {n.outcome for n in notices} == {"declared", "joined"}
        assert len(incidents) == GROUPS, "one incident per alert group"
        assert sorted(g.incident_id or 0 for g in groups) == sorted(i.id or 0 for i in incidents)
        assert not any(g.pending or g.claimed_by for g in groups)
        created = [c for c in emulator.calls_for("conversations.create") if c.ok]
        assert len(created) == GROUPS
    finally:
        await stop_processes(procs)
        await engine.dispose()
        await emulator.stop()
