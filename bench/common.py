"""What the benchmarks share: databases, the served bot in its own process, process statistics, the machine."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import text

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN, manifest_events
from bot.incident import incidents
from sandbox import SlackDriver, SlackEmulator
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import Incident
from tests.databases import wipe
from tests.processes import free_port, spawn_serve, wait_http

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "RETRO_BENCH_DATABASE_URL"
TEAM = "T0SANDBOX"


def postgres_url() -> str | None:
    """The disposable PostgreSQL database the benchmarks may wipe, when one is configured."""
    return os.environ.get(PG_ENV) or None


def db_name(url: str) -> str:
    """`sqlite` or `postgresql`."""
    return "sqlite" if is_sqlite(url) else "postgresql"


@contextmanager
def databases() -> Iterator[list[str]]:
    """A fresh SQLite file, plus the PostgreSQL database when configured (wiped before each use)."""
    with TemporaryDirectory(prefix="retro-bench-") as tmp:
        urls = [f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"]
        pg = postgres_url()
        if pg:
            urls.append(pg)
        yield urls


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (resident peak) of a process in KiB, and its number of threads."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


def load_process(url: str, *args: str) -> dict[str, Any]:
    """Run bench.load as its own process and parse its JSON line."""
    out = subprocess.run([sys.executable, "-m", "bench.load", "--url", url, "--secret", SANDBOX_SECRET, *args],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@dataclass
class Served:
    """`retro serve` in its own process, behind the sandbox's Slack."""

    emulator: SlackEmulator
    process: subprocess.Popen[bytes]
    port: int
    database_url: str
    hook_port: int  # where bench.load hears the bot's replies (the bot answers response_urls there)

    @property
    def events_url(self) -> str:
        """Where Slack sends requests."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    def load(self, *args: str) -> dict[str, Any]:
        """Run bench.load against this bot, its replies on the port the bot allows."""
        return load_process(self.events_url, "--hook-port", str(self.hook_port), *args)

    async def declare(self, title: str, user: str = "alice") -> Incident:
        """`/retro start <title>` from #general, through the sandbox; returns the new incident."""
        result = await SlackDriver(self.emulator).command(user, "#general", f"start {title} sev=3 type=infrastructure")
        await result.replies()
        engine = create_engine(self.database_url)
        try:
            async with session_factory(engine)() as s:
                found = [i for i in await incidents.open_incidents(s, TEAM) if i.title == title]
        finally:
            await engine.dispose()
        if len(found) != 1:
            raise RuntimeError(f"declaring {title!r} did not open exactly one incident: {result.text()}")
        return found[0]


@asynccontextmanager
async def served(database_url: str, env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    """Start the sandbox and `retro serve` (no reminder scheduler; `env` added to its environment) on a wiped
    database; stop both afterwards.

    The bot runs at its default log level (info), as deployed; its log goes to a file, whose last lines are
    printed if the bot exits with an error.
    """
    await wipe(database_url)
    emulator = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN,
                             event_subscriptions=manifest_events())
    await emulator.start()
    port, hook_port = free_port(), free_port()
    with TemporaryDirectory(prefix="retro-bench-log-") as tmp, open(Path(tmp) / "serve.log", "w+b") as log:
        proc = spawn_serve(port=port, api_url=emulator.api_url, database_url=database_url, cwd=ROOT, log=log,
                           extra_env={"RETRO_SCHEDULER": "false", "LOG_LEVEL": "INFO",
                                      # the sandbox's file host (http, loopback), as bot/app/local.py sets it
                                      "RETRO_FILE_HOSTS": emulator.base_url,
                                      "RETRO_REPLY_HOSTS": f"http://127.0.0.1:{hook_port}", **(env or {})})
        try:
            await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            emulator.events_url = f"http://127.0.0.1:{port}/slack/events"
            yield Served(emulator, proc, port, database_url, hook_port)
        finally:
            proc.terminate()
            code = await asyncio.to_thread(proc.wait, 30)
            await emulator.stop()
            if code not in (0, -15):
                log.seek(0)
                print("retro serve exited with", code, *log.read().decode(errors="replace").splitlines()[-20:],
                      sep="\n", file=sys.stderr)


def _first_line(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


async def postgres_version(url: str) -> str:
    """`PostgreSQL 15.x` of the benchmark database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text("SHOW server_version"))).scalar_one()).split()[0]
    finally:
        await engine.dispose()


def machine() -> dict[str, Any]:
    """What the figures were measured on, and how busy the machine was."""
    pg = postgres_url()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": _first_line("/proc/cpuinfo", "model name"),
        "ram_gib": round(int(_first_line("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": asyncio.run(postgres_version(pg)) if pg else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def cpu_snapshot() -> tuple[float, float, float]:
    """(seconds since boot, CPU seconds the whole machine was busy, CPU seconds of this process and its children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / ticks  # user nice system irq softirq
    mine = os.times()
    return time.monotonic(), busy, mine.user + mine.system + mine.children_user + mine.children_system


def other_work(before: tuple[float, float, float], after: tuple[float, float, float]) -> dict[str, float]:
    """CPU the rest of the machine used meanwhile (everything but this run's own processes), in cores on average."""
    wall = after[0] - before[0]
    others = max(0.0, (after[1] - before[1]) - (after[2] - before[2]))
    return {"seconds": round(wall, 1), "other_cpu_seconds": round(others, 1),
            "other_cores": round(others / wall, 2) if wall > 0 else 0.0}


class Stopwatch:
    """Seconds since creation."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Elapsed seconds."""
        return time.perf_counter() - self.started
