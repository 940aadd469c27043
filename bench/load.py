"""A separate load process: signed Slack `message` events, or slash commands, from concurrent clients.

Events: `--concurrency` connections send `--n` events back to back. Commands: `--concurrency` users each send a
command, wait for the bot's reply on its response_url, then send the next, until `--n` commands were sent. With
`--think S` every client pauses S seconds between its requests.
Prints one JSON line: sent, ok, failed, seconds, rate, ack latency p50/p99/max in ms (and, for commands, the
number of replies and reply latency p50/p99/max: the time until the bot's answer reached the response_url).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.payloads import message_event
from tests.signing import signed_headers

REPLY_TIMEOUT = 30.0


def slash_command(text: str, *, team: str, channel: str, user: str, response_url: str, trigger: str) -> str:
    """A `/retro` slash command (form-encoded, as Slack sends it)."""
    return urlencode({"token": "t", "team_id": team, "team_domain": "sandbox", "channel_id": channel,
                      "channel_name": "inc", "user_id": user, "user_name": "alice", "command": "/retro",
                      "text": text, "api_app_id": "A0RETRO", "response_url": response_url, "trigger_id": trigger})


class Replies:
    """A response_url host in this process: one hook per command, resolved when the bot's reply arrives."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def start(self, port: int = 0) -> None:
        """Listen on this loopback port (a free one for 0)."""
        app = web.Application()
        app.router.add_post("/hook/{id}", self._accept)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}/hook"

    async def _accept(self, request: web.Request) -> web.Response:
        await request.read()
        future = self.waiting.get(request.match_info["id"])
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return web.json_response({"ok": True})

    def hook(self, key: str) -> tuple[str, asyncio.Future[float]]:
        """A fresh response_url and the future its first reply resolves."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return f"{self.base}/{key}", future

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def _ms(values: list[float], prefix: str) -> dict[str, float]:
    return {f"{prefix}p50_ms": round(percentile(values, 0.50) * 1000, 2),
            f"{prefix}p99_ms": round(percentile(values, 0.99) * 1000, 2),
            f"{prefix}max_ms": round(max(values) * 1000, 2) if values else float("nan")}


async def run(url: str, secret: str, *, n: int, concurrency: int, kind: str, team: str, channels: list[str],
              user: str, run_id: str, text: str = "note load {run} {i}",
              reply_timeout: float = REPLY_TIMEOUT, hook_port: int = 0, think: float = 0.0) -> dict[str, Any]:
    """Send n requests from `concurrency` clients; a non-200 answer counts as failed (Slack would retry).
    Commands wait up to `reply_timeout` s for their reply (0: not at all, the next is sent after the ack). With
    `think` > 0 each client pauses that long before its next request (the clients' first requests spread over one
    pause), as people do; 0 sends back to back."""
    acks: list[float] = []
    replies: list[float] = []
    failed = 0
    counter = iter(range(n))
    hooks = Replies() if kind == "commands" else None
    if hooks is not None:
        await hooks.start(hook_port)
    bodies = ([message_event(i, team=team, channel=channels[i % len(channels)], user=user, run=run_id)
               for i in range(n)] if kind == "events" else [])
    ctype = "application/json" if kind == "events" else "application/x-www-form-urlencoded"

    async def client(http: aiohttp.ClientSession, k: int) -> None:
        nonlocal failed
        await asyncio.sleep(think * k / concurrency)
        for i in counter:
            reply = None
            if hooks is not None:
                hook, reply = hooks.hook(f"{run_id}-{i}")
                body = slash_command(text.format(run=run_id, i=i), team=team, channel=channels[i % len(channels)],
                                     user=user, response_url=hook, trigger=f"{run_id}.{i}")
            else:
                body = bodies[i]
            started = time.perf_counter()
            async with http.post(url, data=body, headers=signed_headers(secret, body, content_type=ctype)) as resp:
                await resp.read()
                ok = resp.status == 200
            acks.append(time.perf_counter() - started)
            if not ok:
                failed += 1
            elif reply is not None and reply_timeout > 0:
                with contextlib.suppress(TimeoutError):  # counted: replies < sent
                    replies.append(await asyncio.wait_for(reply, reply_timeout) - started)
            await asyncio.sleep(think)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await asyncio.gather(*(client(http, k) for k in range(concurrency)))
    seconds = time.perf_counter() - started
    if hooks is not None:
        await hooks.stop()
    out: dict[str, Any] = {"sent": n, "failed": failed, "seconds": round(seconds, 3), "rate": round(n / seconds, 1),
                           **_ms(acks, "")}
    if kind == "commands":
        out.update({"replies": len(replies), **_ms(replies, "reply_")})
    return out


def main() -> int:
    """Command line of the load process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--kind", choices=["events", "commands"], default="events")
    p.add_argument("--text", default="note load {run} {i}", help="command text; {run} and {i} are filled in")
    p.add_argument("--team", default="T0SANDBOX")
    p.add_argument("--channel", action="append", default=[], help="channel id (repeat to rotate over several)")
    p.add_argument("--channels-file", type=Path, help="channel ids, one per line")
    p.add_argument("--user", default="U0ALICE")
    p.add_argument("--run-id", default="R")
    p.add_argument("--hook-port", type=int, default=0,
                   help="loopback port of the response_url host (the bot must allow it: RETRO_REPLY_HOSTS)")
    p.add_argument("--reply-timeout", type=float, default=REPLY_TIMEOUT, help="0: do not wait for replies")
    p.add_argument("--think", type=float, default=0.0, help="seconds each client pauses between requests")
    a = p.parse_args()
    channels = list(a.channel) + (a.channels_file.read_text().split() if a.channels_file else [])
    if not channels:
        p.error("give --channel or --channels-file")
    result = asyncio.run(run(a.url, a.secret, n=a.n, concurrency=a.concurrency, kind=a.kind, team=a.team,
                             channels=channels, user=a.user, run_id=a.run_id, text=a.text,
                             reply_timeout=a.reply_timeout, hook_port=a.hook_port, think=a.think))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
