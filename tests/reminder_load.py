"""Reminder delivery across processes: N due reminders, several `retro serve` schedulers on one PostgreSQL.

Every process runs the bot with its reminder scheduler, as in production; they compete for the same rows. `measure`
reports the seconds until every reminder is marked sent and the duplicates (messages Slack received for a reminder
already delivered), which must be 0. A test runs it small; bench/reminders.py runs it at full size.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, func, select

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN
from bot.catalog import load_catalog
from bot.incident import incidents
from sandbox import SlackEmulator
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import ActionItem, Incident, Reminder
from tests.processes import free_port, spawn_serve, stop_processes, wait_http

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1000


async def seed(url: str, emulator: SlackEmulator, n: int, *, owners: int = 100) -> None:
    """One closed incident with `n` overdue action items, each with one due reminder (owners are sandbox users)."""
    ws = emulator.workspace
    people = [emulator.add_user(f"owner{i:03d}") for i in range(owners)]
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            decl = incidents.validate_declaration(load_catalog(), title="Reminder benchmark", severity=3,
                                                  category="data-drift")
            incident = await incidents.create(s, team_id=ws.team_id, decl=decl, declared_by=ws.user("alice").id,
                                              declared_in="", channel_id="C0BENCH", channel_name="inc-bench",
                                              now=now - timedelta(days=10))
            stored = await s.get(Incident, incident.id)
            assert stored is not None
            stored.status, stored.closed_at, stored.action_seq = "closed", now, n
            s.add(stored)
            await s.commit()
            due = (now - timedelta(days=3)).date()
            for start in range(0, n, CHUNK):
                rows = [{"team_id": ws.team_id, "incident_id": incident.id, "number": i + 1,
                         "title": f"Follow-up {i + 1}", "owner": people[i % owners], "due": due, "kind": "fix",
                         "status": "open", "created_by": ws.user("alice").id, "created_at": now - timedelta(days=9)}
                        for i in range(start, min(n, start + CHUNK))]
                made = await s.exec(insert(ActionItem).returning(col(ActionItem.id)), params=rows)
                ids = [int(r[0]) for r in made.all()]
                await s.exec(insert(Reminder), params=[{
                    "team_id": ws.team_id, "incident_id": incident.id, "action_id": aid, "kind": "overdue",
                    "due_at": now - timedelta(minutes=1), "status": "pending", "attempts": 0,
                    "dedupe_key": f"bench:{aid}", "data": {"due": due.isoformat()}} for aid in ids])
            await s.commit()
    finally:
        await engine.dispose()


async def sent_count(url: str, ids_from: str = "bench:") -> int:
    """Seeded reminders marked sent."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            q = select(func.count()).select_from(Reminder).where(Reminder.status == "sent",
                                                                 col(Reminder.dedupe_key).startswith(ids_from))
            return int((await s.exec(q)).one())
    finally:
        await engine.dispose()


def delivered(emulator: SlackEmulator) -> Counter[int]:
    """How many times Slack accepted a message for each reminder id (from the messages' metadata)."""
    seen: Counter[int] = Counter()
    for call in emulator.calls_for("chat.postMessage"):
        if not call.ok:
            continue
        meta = call.params.get("metadata")
        meta = json.loads(meta) if isinstance(meta, str) else meta
        if isinstance(meta, dict) and meta.get("event_type") == "retro_reminder":
            seen[int(meta["event_payload"]["reminder_id"])] += 1
    return seen


async def measure(url: str, *, n: int = 10_000, processes: int = 2, timeout: float = 900.0) -> dict[str, Any]:
    """On a migrated, empty database: seed, start the schedulers, wait until all is sent, count duplicates."""
    if is_sqlite(url):
        raise ValueError("the reminder benchmark needs PostgreSQL (several processes on one database)")
    emulator = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN)
    await emulator.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await seed(url, emulator, n)
        ports = [free_port() for _ in range(processes)]
        started = time.monotonic()
        procs = [spawn_serve(port=p, api_url=emulator.api_url, database_url=url, cwd=ROOT) for p in ports]
        await asyncio.gather(*(wait_http(f"http://127.0.0.1:{p}/healthz", timeout=60) for p in ports))
        done = 0
        while (done := await sent_count(url)) < n:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"only {done} of {n} reminders sent after {timeout:.0f}s")
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a scheduler process exited early")
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - started
    finally:
        await stop_processes(procs)
        counts = delivered(emulator)
        await emulator.stop()
    return {"reminders": n, "processes": processes, "seconds": round(seconds, 2),
            "per_second": round(n / seconds, 1), "sent": done, "delivered": len(counts),
            "duplicates": sum(c - 1 for c in counts.values())}
