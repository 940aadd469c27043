"""Reminder delivery benchmark: N due reminders, several `retro serve` processes on one PostgreSQL, the sandbox.

Every process runs the bot with its reminder scheduler, as in production; they compete for the same rows.
Reported: seconds until every reminder is marked sent, and duplicates (messages Slack received for a reminder
that had already been delivered), which must be 0. The database named by RETRO_BENCH_DATABASE_URL is wiped.

    RETRO_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/retro_bench python -m bench.reminders
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, func, select

from bench.common import wipe
from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN, free_port, spawn_serve, wait_http
from bot.catalog import load_catalog
from bot.incident import incidents
from sandbox import SlackEmulator
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import upgrade_async
from storage.models import ActionItem, Incident, Reminder

ROOT = Path(__file__).resolve().parents[1]
ENV = "RETRO_BENCH_DATABASE_URL"
CHUNK = 1000


async def reset(url: str) -> None:
    """Empty the (disposable) PostgreSQL database and migrate it."""
    await wipe(url)
    await upgrade_async(url)


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
    """Seed, start the processes, wait until all are sent, stop them gracefully, count duplicates."""
    if is_sqlite(url):
        raise ValueError("the reminder benchmark needs PostgreSQL (several processes on one database)")
    emulator = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN)
    await emulator.start()
    procs = []
    try:
        await reset(url)
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
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            await asyncio.to_thread(p.wait, 30)
        counts = delivered(emulator)
        await emulator.stop()
    return {"reminders": n, "processes": processes, "seconds": round(seconds, 2),
            "per_second": round(n / seconds, 1), "sent": done, "delivered": len(counts),
            "duplicates": sum(c - 1 for c in counts.values())}


def run(n: int = 10_000) -> dict[str, Any]:
    """The benchmark on RETRO_BENCH_DATABASE_URL (skipped, with the reason, when it is not set)."""
    url = os.environ.get(ENV)
    if not url:
        return {"skipped": f"set {ENV} to a disposable PostgreSQL database"}
    return asyncio.run(measure(url, n=n))


def main() -> None:
    """Print the time until all reminders are sent and the duplicate count."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=10_000, help="due reminders (default 10,000)")
    result = run(p.parse_args().n)
    if "skipped" in result:
        print(f"reminders: skipped ({result['skipped']})")
        return
    print(f"{result['reminders']} reminders, {result['processes']} scheduler processes: all sent in "
          f"{result['seconds']} s ({result['per_second']}/s), duplicates: {result['duplicates']}")


if __name__ == "__main__":
    main()
