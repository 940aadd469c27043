"""Slash-command benchmark: 32 people typing `/retro note` at once in one incident channel.

A separate load process plays 32 concurrent users; each sends a signed `/retro note`, waits for the bot's answer
on its response_url, then sends the next. Reported: ack latency (Slack's 3-second clock; target p99 ≤ 100 ms),
reply latency (until the note was recorded and the answer delivered), and whether every note is in the chain.

    python -m bench.commands [commands per user]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from sqlmodel import col, func, select

from bench.common import cpu_seconds, databases, db_name, served
from bot.record import chain
from storage.db import create_engine, session_factory
from storage.models import Incident, TimelineEntry

USERS = 32
TARGET_P99_MS = 100.0


async def notes_recorded(db_url: str, incident_id: int) -> tuple[int, bool]:
    """Notes of the measured run in the timeline, and whether the chain verifies."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            q = select(func.count()).select_from(TimelineEntry).where(
                TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "note",
                col(TimelineEntry.text).startswith("load N "))
            incident = await s.get(Incident, incident_id)
            assert incident is not None
            return int((await s.exec(q)).one()), (await chain.verify_incident(s, incident)).ok
    finally:
        await engine.dispose()


async def measure(db_url: str, per_user: int = 10) -> dict[str, Any]:
    """Declare an incident, warm up, then run USERS concurrent note-takers."""
    async with served(db_url) as stack:
        incident = await stack.declare("Slash command benchmark")
        assert incident.id is not None
        args = ["--kind", "commands", "--concurrency", str(USERS), "--channel", incident.channel_id]
        await asyncio.to_thread(stack.load, *args, "--n", str(USERS), "--run-id", "W")
        n = USERS * per_user
        before = cpu_seconds(stack.process.pid)
        result = await asyncio.to_thread(stack.load, *args, "--n", str(n), "--run-id", "N")
        result["cpu_ms_per_command"] = round((cpu_seconds(stack.process.pid) - before) * 1000 / n, 2)
        recorded, chain_ok = await notes_recorded(db_url, incident.id)
    return {"db": db_name(db_url), "users": USERS, "commands": n, **result, "recorded": recorded,
            "chain_ok": chain_ok, "all_recorded": recorded == n and result["failed"] == 0 and chain_ok,
            "target_p99_ms": TARGET_P99_MS, "meets_target": result["p99_ms"] <= TARGET_P99_MS}


def run(per_user: int = 10) -> dict[str, Any]:
    """SQLite always; PostgreSQL too when RETRO_BENCH_DATABASE_URL is set."""
    with databases() as urls:
        return {db_name(url): asyncio.run(measure(url, per_user)) for url in urls}


if __name__ == "__main__":
    for name, r in run(int(sys.argv[1]) if len(sys.argv) > 1 else 10).items():
        print(f"{name}: {r['commands']} notes from {r['users']} users, ack p50/p99 {r['p50_ms']}/{r['p99_ms']} ms "
              f"(target p99 ≤ {TARGET_P99_MS:.0f} ms), reply p50/p99 {r['reply_p50_ms']}/{r['reply_p99_ms']} ms, "
              f"recorded {r['recorded']}/{r['commands']}, server CPU {r['cpu_ms_per_command']} ms per command")
