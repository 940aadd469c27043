"""The whole test suite as two pytest processes at once (`make test` runs this), then both reports.

Most scenario time is spent waiting — on Slack's pace (a post a second per channel, which the sandbox keeps), on
servers starting, on schedules — not computing, so two processes side by side take about half the time of one.
Test files are dealt to the shards by weight (scenario files weigh more than unit files; the fuzz test the most),
each file whole in one shard. With RETRO_TEST_DATABASE_URL set, each shard gets its own PostgreSQL database next to
that one (`<name>_shard<n>`, created when missing), since every PostgreSQL test empties its database first.

    python -m tests.shards [pytest options…]        RETRO_TEST_SHARDS=1 runs a single process
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"test_fuzz.py": 15_000}  # weights in lines of an average scenario file (the fuzz runs ~4 min alone)


def weight(path: Path) -> int:
    """How long a file is expected to take, in a rough unit: its lines, five times over for scenario files."""
    lines = sum(1 for _ in path.open(encoding="utf-8"))
    return HEAVY.get(path.name, lines * (5 if "e2e" in path.parts else 1))


def deal(files: list[Path], shards: int) -> list[list[Path]]:
    """Heaviest first, each to the lightest shard so far."""
    loads, out = [0] * shards, [[] for _ in range(shards)]  # type: list[int], list[list[Path]]
    for f in sorted(files, key=lambda p: (-weight(p), str(p))):
        i = loads.index(min(loads))
        out[i].append(f)
        loads[i] += weight(f)
    return out


async def _ensure_database(url: str) -> None:
    import asyncpg

    server, name = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def shard_env(n: int) -> dict[str, str]:
    """The environment of shard `n`: its own PostgreSQL database when one is configured."""
    env = dict(os.environ)
    base = env.get("RETRO_TEST_DATABASE_URL")
    if base:
        env["RETRO_TEST_DATABASE_URL"] = url = f"{base}_shard{n}"
        asyncio.run(_ensure_database(url))
    return env


def main(args: list[str]) -> int:
    """Run the shards side by side; print each one's report; fail when any failed (or ran nothing)."""
    shards = max(1, int(os.environ.get("RETRO_TEST_SHARDS", "2")))
    files = sorted(p for p in (ROOT / "tests").rglob("test_*.py"))
    if shards == 1:
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="retro-shards-") as tmp:
        procs = []
        for n, part in enumerate(deal(files, shards)):
            log = open(Path(tmp) / f"shard{n}.log", "w+b")  # noqa: SIM115 - kept open until the shard is read
            procs.append((n, log, subprocess.Popen(
                [sys.executable, "-m", "pytest", *args, *(str(p.relative_to(ROOT)) for p in part)], cwd=ROOT,
                env=shard_env(n), stdout=log, stderr=subprocess.STDOUT)))
        codes = []
        for n, log, proc in procs:
            codes.append(proc.wait())
            log.seek(0)
            sys.stdout.write(f"\n===== shard {n + 1} of {shards}: exit {codes[-1]} =====\n")
            sys.stdout.flush()
            sys.stdout.buffer.write(log.read())
            log.close()
    sys.stdout.write(f"\n===== {shards} shards in {time.monotonic() - started:.0f} s: exits {codes} =====\n")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
