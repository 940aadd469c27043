"""Data-check benchmark: Retro's `/retro datacheck` against the same statistics computed plainly with polars.

Inputs are generated from a seed in a temporary folder (bench/datacheck_data.py): (a) two CSVs of 300,000 rows ×
19 columns, (b) two Parquet files of 2,000,000 × 20. For each, two processes run one after the other
(bench/datacheck_procs.py): Retro's check as the bot runs it (its bounded worker process), and a reference
computation with polars + numpy + scipy. Reported: wall time and peak RSS of each (Retro's: the worker's), and the
ratios Retro ÷ reference (targets ≤ 1.5 both). Then, with `retro serve` behind the sandbox's Slack, (b) is shared in
an incident channel, `/retro datacheck` starts, and 32 people send `/retro note` meanwhile (a note a second each,
and, in turns, back to back): their ack p99.

    python -m bench.datacheck [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlmodel import col, select

from bench.common import ROOT, databases, db_name, memory_kib, served
from storage.db import create_engine, session_factory
from storage.models import Evidence

TARGET_RATIO = 1.5
TARGET_ACK_P99_MS = 100.0
USERS = 32
MEMORY_MB = 8192  # the worker's address-space limit here (RETRO_DATACHECK_MAX_MEMORY_MB; the default is 1,024)
TIMEOUT = 1800.0
FULL = {"csv": (300_000, 19), "parquet": (2_000_000, 20)}
QUICK = {"csv": (30_000, 19), "parquet": (200_000, 20)}


def _side(side: str, base: Path, cur: Path, cells: int) -> dict[str, Any]:
    """One measured process: its own figures, and the wall time seen from here (interpreter start included)."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bench.datacheck_procs", side, str(base), str(cur), "--cells",
                          str(cells), "--memory-mb", str(MEMORY_MB), "--timeout", str(TIMEOUT)],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{side} process failed ({out.returncode}): {out.stderr[-800:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    return result


def compare(base: Path, cur: Path, rows: int, columns: int) -> dict[str, Any]:
    """Retro and the reference on one pair of files; the ratios and whether they flagged the same features."""
    cells = rows * columns + columns
    retro = _side("retro", base, cur, cells)
    ref = _side("reference", base, cur, cells)
    out: dict[str, Any] = {"rows": rows, "columns": columns, "bytes": base.stat().st_size + cur.stat().st_size,
                           "retro": retro, "reference": ref, "target_ratio": TARGET_RATIO,
                           "memory_limit_mb": MEMORY_MB}
    if "error" in retro:
        return out
    out["time_ratio"] = round(retro["seconds"] / ref["seconds"], 2)
    out["memory_ratio"] = round(retro["worker_peak_mib"] / ref["peak_mib"], 2)
    out["same_flags"] = retro["flagged"] == ref["flagged"]
    return out


async def _check_done(db_url: str, timeout: float) -> dict[str, Any]:
    """Wait until the incident's data-check evidence is recorded (ok or failed): its status, and when."""
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with session_factory(engine)() as s:
                rows = (await s.exec(select(Evidence).where(Evidence.kind == "dataset",
                                                            col(Evidence.status) != "pending"))).all()
            if rows:
                return {"status": rows[0].status, "at": time.perf_counter()}
            await asyncio.sleep(0.1)
        return {"status": "still running", "at": time.perf_counter()}
    finally:
        await engine.dispose()


MODES = {"paced": ["--think", "1"], "back_to_back": []}  # each person a note a second; or the next at once


def _mode(rounds: list[dict[str, Any]], idle: dict[str, Any]) -> dict[str, Any]:
    p99s = [float(r["p99_ms"]) for r in rounds]
    return {"rounds": len(rounds), "commands": sum(int(r["sent"]) for r in rounds),
            "failed": sum(int(r["failed"]) for r in rounds),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2), "p99_ms": max(p99s),
            "round_p99_median_ms": round(statistics.median(p99s), 2),
            "max_ms": max(float(r["max_ms"]) for r in rounds),
            "no_check_p50_ms": idle["p50_ms"], "no_check_p99_ms": idle["p99_ms"]}


async def ack_during_check(db_url: str, base: Path, cur: Path, cells: int, per_user: int) -> dict[str, Any]:
    """`/retro note` from USERS people, in rounds, for as long as the bot checks (b): ack latency per round, and
    of the same round with no check running. Two kinds of round take turns: `paced`, where each person sends a
    note a second (USERS notes a second in all), and `back_to_back`, where each sends the next as soon as the last
    was acknowledged (as many as the bot can take: the harshest case). The target is on `paced`.

    The bot answers a note through the Web API, not on the load's response_url (not a Slack host), so replies are
    not awaited.
    """
    from sandbox import SlackDriver

    env = {"RETRO_DATACHECK_MAX_BYTES": str(1 << 40), "RETRO_DATACHECK_MAX_CELLS": str(cells),
           "RETRO_DATACHECK_MAX_MEMORY_MB": str(MEMORY_MB), "RETRO_DATACHECK_TIMEOUT": str(TIMEOUT)}
    async with served(db_url, env=env) as stack:
        incident = await stack.declare("Data check benchmark")
        drv, channel = SlackDriver(stack.emulator), incident.channel_id
        for path in (base, cur):
            await drv.share_file("alice", channel, path.name, path.read_bytes())
        args = ["--kind", "commands", "--concurrency", str(USERS), "--channel", channel, "--reply-timeout", "0",
                "--n", str(USERS * per_user)]

        def load(mode: str, run_id: str) -> dict[str, Any]:
            return stack.load(*args, *MODES[mode], "--run-id", run_id)

        await asyncio.to_thread(load, "back_to_back", "W")  # warm-up
        idle = {mode: await asyncio.to_thread(load, mode, f"I{mode}") for mode in MODES}
        before = memory_kib(stack.process.pid)
        started = time.perf_counter()
        await drv.command("alice", channel, f"datacheck baseline={base.name} current={cur.name}")
        ack_ms = round((time.perf_counter() - started) * 1000, 1)
        waiting = asyncio.create_task(_check_done(db_url, TIMEOUT))
        rounds: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        turn = 0
        while not waiting.done() or not all(rounds.values()):
            mode = list(MODES)[turn % len(MODES)]
            rounds[mode].append(await asyncio.to_thread(load, mode, f"N{turn}"))
            turn += 1
        check = await waiting
        after = memory_kib(stack.process.pid)
    modes = {mode: _mode(rounds[mode], idle[mode]) for mode in MODES}
    return {"db": db_name(db_url), "users": USERS, "modes": modes, "datacheck_ack_ms": ack_ms,
            "check_status": check["status"], "check_seconds": round(check["at"] - started, 1),
            "bot_rss_before_mib": round(before["VmRSS"] / 1024, 1), "bot_peak_mib": round(after["VmHWM"] / 1024, 1),
            "target_p99_ms": TARGET_ACK_P99_MS,
            "meets_target": modes["paced"]["p99_ms"] <= TARGET_ACK_P99_MS and check["status"] == "ok"}


def run(sizes: dict[str, tuple[int, int]] | None = None, per_user: int = 10) -> dict[str, Any]:
    """Generate both pairs, compare Retro with the reference on each, then the acks during a check of (b)."""
    from bench.datacheck_data import write_pair  # numpy and pyarrow: only this section needs them

    sizes = sizes or FULL
    out: dict[str, Any] = {}
    with TemporaryDirectory(prefix="retro-bench-datacheck-") as tmp:
        pairs = {}
        for fmt, (rows, columns) in sizes.items():
            folder = Path(tmp) / fmt
            folder.mkdir()
            pairs[fmt] = write_pair(folder, fmt, rows, columns)
            out[fmt] = compare(*pairs[fmt], rows, columns)
        rows, columns = sizes["parquet"]
        with databases() as urls:
            out["acks"] = asyncio.run(ack_during_check(urls[0], *pairs["parquet"], rows * columns + columns,
                                                       per_user))
    return out


if __name__ == "__main__":
    from bench.table import print_rows, rows_for

    quick = "--quick" in sys.argv[1:]
    print_rows(rows_for("datacheck", run(QUICK if quick else FULL, 3 if quick else 10)))
