"""`python -m bench`: every benchmark, one table. Run by hand, never as a CI gate.

    python -m bench                       # full sizes (SQLite; PostgreSQL too with RETRO_BENCH_DATABASE_URL)
    python -m bench --quick               # smaller sizes, for a quick look
    python -m bench --only ingest,memory  # some sections
    python -m bench --json results.json   # also keep every figure

RETRO_BENCH_DATABASE_URL names a disposable PostgreSQL database: the benchmarks wipe it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import commands, datacheck, ingest, memory, render, slack_calls
from bench.common import PG_ENV, cpu_snapshot, machine, other_work, postgres_url
from bench.table import Row, notes_for, print_table, rows_for

Runner = Callable[[bool], dict[str, Any]]


def _reminders(quick: bool) -> dict[str, Any]:
    from bench import reminders

    runner = getattr(reminders, "run", None)
    if runner is None:
        return {"skipped": "bench/reminders.py has no run() yet"}
    if not postgres_url():
        return {"skipped": f"needs PostgreSQL: set {PG_ENV} to a disposable database"}
    return dict(runner(1_000 if quick else 10_000))


SECTIONS: dict[str, Runner] = {
    "ingest": lambda quick: ingest.run(1000 if quick else 3000, 2 if quick else 5),
    "commands": lambda quick: commands.run(3 if quick else 10),
    "memory": lambda quick: memory.run(100 if quick else 1000, 100),
    "slack_calls": lambda quick: slack_calls.run(1 if quick else 3),
    "render": lambda quick: render.run(),
    "reminders": _reminders,
    "datacheck": lambda quick: datacheck.run(datacheck.QUICK if quick else datacheck.FULL, 3 if quick else 10),
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, then print the table (and write the JSON)."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (figures are then not comparable)")
    p.add_argument("--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    p.add_argument("--json", type=Path, help="write every figure to this file")
    a = p.parse_args(argv)
    chosen = [s.strip() for s in a.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    before, cpu_before = machine(), cpu_snapshot()
    results: dict[str, Any] = {}
    for name in chosen:
        print(f"… {name}", file=sys.stderr, flush=True)
        try:
            results[name] = SECTIONS[name](a.quick)
        except Exception as exc:  # one broken section must not hide the others' figures
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    info = {**before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "other_work": other_work(cpu_before, cpu_snapshot()),
            "command": "python -m bench" + (" --quick" if a.quick else "") + (f" --only {a.only}" if a.only else ""),
            "postgresql_url_set": postgres_url() is not None}
    rows: list[Row] = [row for name in chosen for row in rows_for(name, results[name])]
    print_table(info, rows, [note for name in chosen for note in notes_for(name, results[name])])
    if a.json:
        a.json.write_text(json.dumps({"machine": info, "results": results}, indent=2, default=str) + "\n")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
