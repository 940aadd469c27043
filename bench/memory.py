"""Memory benchmark: resident memory of a `retro serve` process, idle and after serving 1,000 incidents.

The bot runs as its own process (reminder scheduler off, so that only the reads below happen). Idle: started,
migrated, healthy, one `/retro help` answered. Then another process (this one) records 1,000 incidents × 100
timeline entries on the same database through the domain functions, and the bot is made to read all of it the way
people would: `/retro list`, `/retro stats`, `/retro search`, and `/retro timeline all` in every incident channel
(8 people at a time). RSS and its peak (VmRSS, VmHWM) come from /proc/<pid>/status of the serving process.

    python -m bench.memory [incidents] [entries per incident]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import TEAM, Stopwatch, databases, db_name, memory_kib, served
from bot.catalog import load_catalog
from bot.incident import incidents
from bot.record import chain
from storage.db import create_engine, session_factory

CATEGORIES = ("data-drift", "infrastructure", "model-regression")


async def seed(db_url: str, *, incidents_n: int, entries: int, user: str) -> list[str]:
    """Declare incidents and chain `entries` entries into each (declaration included); returns their channels."""
    catalog = load_catalog()
    engine = create_engine(db_url)
    start = datetime.now(UTC) - timedelta(days=120)
    channels = []
    try:
        async with session_factory(engine)() as s:
            for n in range(incidents_n):
                at = start + timedelta(minutes=150 * n)
                decl = incidents.validate_declaration(catalog, title=f"Ranking quality drop {n}",
                                                      severity=1 + n % 4, category=CATEGORIES[n % 3])
                channel = f"CM{n:07d}"
                inc = await incidents.create(s, team_id=TEAM, decl=decl, declared_by=user, declared_in="C0",
                                             channel_id=channel, channel_name=f"inc-memory-{n:04d}", now=at)
                assert inc.id is not None
                items = [chain.NewEntry("message", at + timedelta(seconds=20 * i), user,
                                        f"obs {n}.{i}: precision@k fell on shard {i % 17}, lag {i % 13} min, "
                                        f"see <https://grafana.example.com/d/rank?i={i}|dashboard>",
                                        f"{1_760_000_000 + n}.{i:06d}") for i in range(entries - inc.entry_count)]
                await chain.append_many(s, inc.id, items)
                await s.commit()
                s.expunge_all()
                channels.append(channel)
    finally:
        await engine.dispose()
    return channels


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


async def measure(db_url: str, incidents_n: int = 1000, entries: int = 100) -> dict[str, Any]:
    """Idle RSS, then seed, serve everything, and read RSS again."""
    async with served(db_url) as stack:
        pid = stack.process.pid
        general = stack.emulator.workspace.channel("#general").id
        alice = stack.emulator.workspace.user("alice").id

        async def command(text: str, channels: list[str] | None = None, n: int = 1, concurrency: int = 1) -> Any:
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                f.write("\n".join(channels or [general]))
            try:
                return await asyncio.to_thread(stack.load, "--kind", "commands", "--text", text,
                                               "--n", str(n), "--concurrency", str(concurrency), "--user", alice,
                                               "--channels-file", f.name, "--run-id", "M")
            finally:
                Path(f.name).unlink()

        await command("help")
        await asyncio.sleep(1.0)
        idle = memory_kib(pid)
        clock = Stopwatch()
        channels = await seed(db_url, incidents_n=incidents_n, entries=entries, user=alice)
        seeded = clock.seconds
        clock = Stopwatch()
        answers = [await command("list"), await command("stats period=365d"), await command("search precision"),
                   await command("timeline all", channels, n=len(channels), concurrency=8)]
        served_seconds = clock.seconds
        await asyncio.sleep(1.0)
        after = memory_kib(pid)
    failed = sum(int(a["failed"]) + int(a["sent"]) - int(a["replies"]) for a in answers)
    return {"db": db_name(db_url), "incidents": incidents_n, "entries_per_incident": entries,
            "idle_rss_mib": _mib(idle["VmRSS"]), "after_rss_mib": _mib(after["VmRSS"]),
            "peak_rss_mib": _mib(after["VmHWM"]), "growth_mib": _mib(after["VmRSS"] - idle["VmRSS"]),
            "threads_idle": idle["Threads"], "threads_after": after["Threads"],
            "seed_seconds": round(seeded, 1), "serve_seconds": round(served_seconds, 1),
            "timeline_reply_p50_ms": answers[-1]["reply_p50_ms"], "timeline_reply_p99_ms": answers[-1]["reply_p99_ms"],
            "commands": sum(int(a["sent"]) for a in answers), "unanswered": failed}


def run(incidents_n: int = 1000, entries: int = 100) -> dict[str, Any]:
    """On SQLite (the bot's memory does not depend on the database much; PostgreSQL is measured when set)."""
    with databases() as urls:
        return {db_name(url): asyncio.run(measure(url, incidents_n, entries)) for url in urls}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    for name, r in run(*args).items():
        print(f"{name}: idle {r['idle_rss_mib']} MiB, after {r['incidents']} incidents × {r['entries_per_incident']} "
              f"entries served {r['after_rss_mib']} MiB (peak {r['peak_rss_mib']} MiB); {r}")
