"""A separate load process: signed Slack `message` events (or slash commands) at fixed concurrency.

Prints one JSON line: sent, ok, failed, seconds, rate, ack latency p50/p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import string
import sys
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web


def sign(secret: str, body: str) -> dict[str, str]:
    """Slack's v0 signature headers for a body."""
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def message_event(i: int, *, team: str, channel: str, user: str, run: str) -> str:
    """A ~200-character message event, unique per run and index."""
    words = "".join(random.choices(string.ascii_lowercase + " ", k=180))
    ts = f"{1_700_000_000 + i}.{i % 1_000_000:06d}"
    return json.dumps({"token": "t", "team_id": team, "api_app_id": "A0RETRO", "type": "event_callback",
                       "event_id": f"Ev{run}{i:07d}", "event_time": int(time.time()),
                       "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": True}],
                       "event": {"type": "message", "channel": channel, "user": user, "ts": ts,
                                 "text": f"obs {i}: {words}", "event_ts": ts, "channel_type": "channel"}})


def note_command(i: int, *, team: str, channel: str, user: str, run: str, response_url: str = "") -> str:
    """A `/retro note` slash command (form-encoded)."""
    return urlencode({"token": "t", "team_id": team, "team_domain": "sandbox", "channel_id": channel,
                      "channel_name": "inc", "user_id": user, "user_name": "alice", "command": "/retro",
                      "text": f"note load {run} {i}", "api_app_id": "A0RETRO", "response_url": response_url,
                      "trigger_id": f"t{i}"})


async def start_sink() -> tuple[web.AppRunner, str]:
    """A response_url that accepts every reply (the bot's answers to the commands land here)."""
    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


async def run(url: str, secret: str, *, n: int, concurrency: int, kind: str, team: str, channel: str, user: str,
              run_id: str) -> dict[str, float]:
    """Send n requests with `concurrency` in flight; retry non-200 once more like Slack would (counted failed)."""
    ctype = "application/json" if kind == "events" else "application/x-www-form-urlencoded"
    sink = await start_sink() if kind == "commands" else None
    if kind == "events":
        bodies = [message_event(i, team=team, channel=channel, user=user, run=run_id) for i in range(n)]
    else:
        assert sink is not None
        bodies = [note_command(i, team=team, channel=channel, user=user, run=run_id, response_url=sink[1])
                  for i in range(n)]
    latencies: list[float] = []
    failed = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal failed
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            headers = {**sign(secret, body), "Content-Type": ctype}
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    failed += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    if sink is not None:
        await sink[0].cleanup()
    return {"sent": n, "failed": failed, "seconds": round(seconds, 3), "rate": round(n / seconds, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2)}


def main() -> int:
    """Command line of the load process."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--kind", choices=["events", "commands"], default="events")
    p.add_argument("--team", default="T0SANDBOX")
    p.add_argument("--channel", required=True)
    p.add_argument("--user", default="U0ALICE")
    p.add_argument("--run-id", default="R")
    a = p.parse_args()
    result = asyncio.run(run(a.url, a.secret, n=a.n, concurrency=a.concurrency, kind=a.kind, team=a.team,
                             channel=a.channel, user=a.user, run_id=a.run_id))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
