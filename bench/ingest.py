"""Ingestion benchmark: Retro vs a bare Bolt app, same load, same run.

Both servers run as their own processes; a third process generates the load (signed `message` events,
~200-character texts, 32 concurrent connections). Rounds alternate between the two servers so that both see the
same machine; the headline is the median of the per-round ratios (each Retro round against the bare round next
to it), and each server's best round is reported too. Afterwards every acked event must be in the timeline exactly
once and the chain must verify. Also reported: each server's CPU time per event (less sensitive than throughput
to other work on a shared machine).

    python -m bench.ingest [events per round]
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
from typing import Any

from sqlmodel import col, func, select

from bench.common import ROOT, cpu_seconds, cpu_snapshot, databases, db_name, load_process, other_work, served
from bot.app.local import SANDBOX_SECRET
from bot.record import chain
from storage.db import create_engine, session_factory
from storage.models import Incident, ProcessedEvent, TimelineEntry
from tests.processes import free_port, wait_http

TARGET_RATIO = 0.5
WARMUP = 300


async def check(db_url: str, incident_id: int) -> dict[str, Any]:
    """Load messages in the timeline (all, and distinct), event ids claimed, and whether the chain verifies."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as s:
            measured = (TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "message",
                        col(TimelineEntry.text).startswith("obs "))  # the load's messages (texts are random)
            recorded = int((await s.exec(select(func.count()).select_from(TimelineEntry).where(*measured))).one())
            distinct = select(func.count(func.distinct(TimelineEntry.text))).where(*measured)
            claimed = select(func.count()).select_from(ProcessedEvent).where(  # the load's ids: EvR…, EvW…
                col(ProcessedEvent.event_id).startswith("EvR") | col(ProcessedEvent.event_id).startswith("EvW"))
            incident = await s.get(Incident, incident_id)
            assert incident is not None
            report = await chain.verify_incident(s, incident)
            return {"recorded": recorded, "distinct": int((await s.exec(distinct)).one()),
                    "claimed": int((await s.exec(claimed)).one()), "chain_ok": report.ok, "entries": report.count}
    finally:
        await engine.dispose()


def _round(url: str, pid: int, servers: tuple[int, int], channel: str, n: int, run_id: str) -> dict[str, Any]:
    """One round against one server; also how much CPU the rest of the machine took meanwhile."""
    machine_before, both_before, before = cpu_snapshot(), sum(map(cpu_seconds, servers)), cpu_seconds(pid)
    result = load_process(url, "--n", str(n), "--concurrency", "32", "--channel", channel, "--run-id", run_id)
    result["cpu_ms_per_event"] = round((cpu_seconds(pid) - before) * 1000 / n, 3)
    machine_after, both_after = cpu_snapshot(), sum(map(cpu_seconds, servers))
    # This process and the (waited-for) load process are in the snapshots; the two servers are not.
    busy = other_work(machine_before, machine_after)
    result["other_cores"] = round(max(0.0, busy["other_cpu_seconds"] - (both_after - both_before)) / busy["seconds"],
                                  2)
    return result


async def measure(db_url: str, n: int = 3000, rounds: int = 5) -> dict[str, Any]:
    """Run both servers against the same load, alternating rounds, and compare."""
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "bench.bare_bolt", "--port", str(bare_port), "--secret",
                             SANDBOX_SECRET], cwd=ROOT)
    try:
        await wait_http(f"http://127.0.0.1:{bare_port}/")
        async with served(db_url) as stack:
            incident = await stack.declare("Ingestion benchmark")
            assert incident.id is not None
            bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
            channel = incident.channel_id
            # Warm both up (imports, caches, the first auth.test) outside the measured rounds.
            await asyncio.to_thread(load_process, bare_url, "--n", str(WARMUP), "--channel", channel,
                                    "--run-id", "WB")
            warm = await asyncio.to_thread(load_process, stack.events_url, "--n", str(WARMUP), "--channel", channel,
                                           "--run-id", "WR")
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "retro": []}
            for r in range(rounds):
                order = [("bare", bare_url, bare.pid), ("retro", stack.events_url, stack.process.pid)]
                for name, url, pid in order if r % 2 == 0 else order[::-1]:
                    runs[name].append(await asyncio.to_thread(_round, url, pid, (bare.pid, stack.process.pid),
                                                              channel, n, f"R{r}{name[0]}"))
            checked = await check(db_url, incident.id)
    finally:
        bare.terminate()
        bare.wait(timeout=15)
    best = {name: max(rs, key=lambda x: float(x["rate"])) for name, rs in runs.items()}
    sent = n * rounds + WARMUP
    failed = sum(int(x["failed"]) for x in runs["retro"]) + int(warm["failed"])
    return {
        "db": db_name(db_url), "events_per_round": n, "rounds": rounds, "retro": best["retro"], "bare": best["bare"],
        "ratio": round(best["retro"]["rate"] / best["bare"]["rate"], 3),
        "round_ratios": [round(r["rate"] / b["rate"], 3) for r, b in zip(runs["retro"], runs["bare"], strict=True)],
        "median_round_ratio": round(statistics.median(r["rate"] / b["rate"] for r, b in zip(runs["retro"], runs["bare"],
                                                                                             strict=True)), 3),
        "cpu_ms_per_event": {name: statistics.median(float(x["cpu_ms_per_event"]) for x in rs)
                             for name, rs in runs.items()},
        "rounds_detail": runs, "sent": sent, "failed": failed, **checked,
        "all_committed": failed == 0 and checked["recorded"] == sent and checked["distinct"] == sent
        and checked["claimed"] == sent and checked["chain_ok"],
        "target_ratio": TARGET_RATIO,
    }


def run(n: int = 3000, rounds: int = 5) -> dict[str, Any]:
    """SQLite always; PostgreSQL too when RETRO_BENCH_DATABASE_URL is set."""
    with databases() as urls:
        return {db_name(url): asyncio.run(measure(url, n, rounds)) for url in urls}


if __name__ == "__main__":
    from bench.table import print_rows, rows_for

    print_rows(rows_for("ingest", run(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)))
