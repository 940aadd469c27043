"""Web view benchmark: the incident page of an incident with 10,000 timeline entries, served over HTTP.

The local stack (the sandbox's Slack and the bot's dependencies, on a throwaway SQLite file) serves the web view on
a second, in-process aiohttp server whose outermost middleware times every request: *server time* is from the
request reaching the application to the answer being ready (security headers included), so the client's own work
is left out. The baseline is the sign-in page of the same server, requested alternately with the incident page in
the same run. Target: the incident page's p95 ≤ 300 ms. For scale, the run also times building the whole incident
document (every entry, as the export and the postmortem read it), which the page does not do.

    python -m bench.web_incident [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import percentile
from bot.app.local import LocalStack, local_stack
from bot.app.web import add_web_routes, session
from bot.incident import evidence, hypotheses, incidents
from bot.postmortem import document
from bot.record import chain
from storage.models import Incident

ENTRIES = 10_000
ROUNDS = 40
TARGET_MS = 300.0
TEAM = "T0SANDBOX"
BATCH = 1_000


async def seed(stack: LocalStack, user: str) -> Incident:
    """A declared incident with evidence, two hypotheses (one confirmed), then messages up to ENTRIES entries (every
    25th a key event), chained through the record's own writer in batches."""
    deps, start = stack.deps, stack.deps.now() - timedelta(hours=9)
    async with deps.session() as s:
        decl = incidents.validate_declaration(deps.catalog, title="Benchmark: ranking quality drop", severity=2,
                                              category="data-drift", models=("ranker@7",))
        inc = await incidents.create(s, team_id=TEAM, decl=decl, declared_by=user, declared_in="C0",
                                     channel_id="C0BENCHWEB", channel_name="inc-bench-web", now=start)
        for n in range(5):
            item = evidence.validate("metric", f"https://grafana.example.com/d/rank?panel={n}", "ndcg dropped",
                                     {"model": "ranker@7"}, now=start)
            await evidence.add(s, incident=inc, item=item, actor=user, now=start + timedelta(seconds=n))
        for statement in ("The ranker's features went stale", "A bad deploy of the ranker"):
            await hypotheses.propose(s, incident=inc, statement=statement, actor=user, now=start)
        await hypotheses.record_verdict(s, incident=inc, number=1, verdict="confirmed", evidence=[1],
                                        note="lag matched", actor=user, now=start + timedelta(minutes=30))
        await s.refresh(inc)
        assert inc.id is not None
        seq = inc.entry_count
        while seq < ENTRIES:
            items = [chain.NewEntry(kind="message", at=start + timedelta(seconds=3 * (seq + i)),
                                    actor=f"U0BENCH{i % 12}",
                                    text=f"Checked shard {(seq + i) % 97}: lag {(seq + i) % 13} min, see "
                                         f"<https://grafana.example.com/d/x|dashboard {seq + i}>",
                                    slack_ts=f"1773306000.{seq + i:06d}", key_event=(seq + i) % 25 == 0)
                     for i in range(min(BATCH, ENTRIES - seq))]
            await chain.append_many(s, inc.id, items)
            await s.commit()
            seq += len(items)
        await s.refresh(inc)
        return inc


def timer(spent: list[tuple[str, float]]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware noting each request's path and server time (seconds)."""

    @web.middleware
    async def timed(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        began = time.perf_counter()
        try:
            return await handler(request)
        finally:
            spent.append((request.path, time.perf_counter() - began))

    return timed


def _figures(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 0.95), 1),
            "min_ms": round(min(ms), 1), "max_ms": round(max(ms), 1)}


async def measure(rounds: int) -> dict[str, Any]:
    """Seed, serve, and request the incident page and the baseline alternately; returns the figures."""
    async with local_stack() as stack:
        user = stack.driver.user("alice").id
        t0 = time.perf_counter()
        inc = await seed(stack, user)
        seeded = time.perf_counter() - t0
        spent: list[tuple[str, float]] = []
        app = web.Application(middlewares=[timer(spent)])
        add_web_routes(app, stack.deps, stack.bolt)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        key = session.session_key(stack.settings)
        assert key is not None
        now = stack.deps.now()
        me = session.Session(user, TEAM, "Alice", now + timedelta(hours=1))
        cookie = {session.COOKIE: session.seal(key, "session", me.claims(now))}
        base = f"http://127.0.0.1:{port}"
        paths = {"page": f"/web/incidents/{inc.id}", "last page": f"/web/incidents/{inc.id}?page=100",
                 "baseline": "/web/signin"}
        sizes: dict[str, int] = {}
        try:
            async with aiohttp.ClientSession(cookies=cookie) as http:
                for _ in range(3):  # warm-up: templates compiled, connections pooled, caches filled
                    for path in paths.values():
                        async with http.get(base + path) as resp:
                            assert resp.status == 200, (path, resp.status)
                spent.clear()
                for _ in range(rounds):
                    for name, path in paths.items():
                        async with http.get(base + path) as resp:
                            body = await resp.read()
                            assert resp.status == 200 and (name == "baseline" or b"Benchmark: ranking" in body)
                            sizes[name] = len(body)
        finally:
            await runner.cleanup()
        whole = []
        for _ in range(5):  # what reading the whole chain would cost the page: the export's document alone
            async with stack.deps.session() as s:
                began = time.perf_counter()
                await document.build(s, inc, catalog=stack.deps.catalog)
                whole.append(time.perf_counter() - began)
    by_path = {name: [s for p, s in spent if p == path.split("?")[0]] for name, path in paths.items()}
    page_times = [s for p, s in spent if p == paths["page"]]
    # the page and its last page share a path: they alternate, so split them by order
    by_path["page"], by_path["last page"] = page_times[0::2], page_times[1::2]
    figures = {name: _figures(values) for name, values in by_path.items()}
    figures["whole document"] = _figures(whole)
    ratio = figures["page"]["median_ms"] / max(figures["baseline"]["median_ms"], 0.001)
    return {"entries": inc.entry_count, "rounds": rounds, "seed_seconds": round(seeded, 1), "figures": figures,
            "page_bytes": sizes, "ratio_page_to_baseline": round(ratio, 1), "target_p95_ms": TARGET_MS,
            "ok": figures["page"]["p95_ms"] <= TARGET_MS and figures["last page"]["p95_ms"] <= TARGET_MS}


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    """Measure in a fresh event loop; returns the figures."""
    return asyncio.run(measure(rounds))


def main() -> None:
    """Print the figures, the ratio to the baseline and the verdict."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=ROUNDS)
    result = run(p.parse_args().rounds)
    for name, f in result["figures"].items():
        print(f"{name:>14}: server median {f['median_ms']:7.1f} ms, p95 {f['p95_ms']:7.1f} ms "
              f"(min {f['min_ms']}, max {f['max_ms']})" + (f", {result['page_bytes'][name]:,} bytes"
                                                          if name in result["page_bytes"] else ""))
    verdict = "ok" if result["ok"] else "SLOWER than the target"
    print(f"incident page ÷ sign-in page (medians): {result['ratio_page_to_baseline']}×; "
          f"{result['entries']:,} entries; p95 target {TARGET_MS:.0f} ms: {verdict}")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
