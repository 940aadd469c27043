"""The bot as its own process: a free port, `retro serve` against the sandbox, waiting until it answers.

Shared by the process tests and the benchmarks (bench/ runs from a checkout, so it imports these from here).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import aiohttp

from bot.app.local import SANDBOX_SECRET, SANDBOX_TOKEN

METRICS_TOKEN = "test-metrics-token"  # spawned bots serve /metrics on their Slack port behind it


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_http(url: str, timeout: float = 30) -> None:
    """Wait until a server answers below 500."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


def spawn_serve(*, port: int, api_url: str, database_url: str, extra_env: dict[str, str] | None = None,
                cwd: Path | None = None, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """`retro serve` as its own process, talking to the sandbox's Web API."""
    env = {**os.environ, "SLACK_BOT_TOKEN": SANDBOX_TOKEN, "SLACK_SIGNING_SECRET": SANDBOX_SECRET,
           "SLACK_API_URL": api_url, "DATABASE_URL": database_url, "PORT": str(port), "HOST": "127.0.0.1",
           "LOG_LEVEL": "WARNING", "RETRO_METRICS_TOKEN": METRICS_TOKEN, **(extra_env or {})}
    env.pop("SLACK_APP_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=cwd, stderr=log)


async def stop_processes(procs: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM every process still running, then wait for each to exit (the way a deploy stops replicas)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        await asyncio.to_thread(p.wait, timeout)
