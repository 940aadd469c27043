"""Helpers for the fault scenarios: signed deliveries, metrics, a held SQLite write lock, what the chain holds."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from bot.app.local import SANDBOX_SECRET, LocalStack
from bot.incident import incidents
from bot.record import chain
from sandbox import ApiCall, SlackDriver
from storage.db import create_engine, session_factory
from storage.models import Incident, ProcessedEvent, TimelineEntry
from tests.processes import METRICS_TOKEN
from tests.signing import signed_headers

TEAM = "T0SANDBOX"
METERED = {"retro_metrics_token": METRICS_TOKEN}  # a local stack whose /metrics answers the tests


def metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of one metric in a Prometheus exposition, by their labels."""
    return {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


async def metrics_of(http: aiohttp.ClientSession, base: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """One metric as the bot's /metrics reports it now."""
    async with http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as resp:
        return metric_values(await resp.text(), name)


def waited_out(calls: list[ApiCall], retry_after: float) -> list[str]:
    """429s whose call was not repeated at least `retry_after` seconds later (empty when every one was)."""
    bad = []
    for n, call in enumerate(calls):
        if not call.ratelimited:
            continue
        again = next((c for c in calls[n + 1:] if c.method == call.method and c.params == call.params), None)
        if again is None or again.at - call.at < retry_after:
            bad.append(f"{call.method} at {call.at}: {'never retried' if again is None else 'retried too early'}")
    return bad


async def signed_post(http: aiohttp.ClientSession, url: str, body: str, *, retry: int | None = None,
                      form: bool = False) -> int:
    """POST a signed body as Slack does (JSON events, or a form), as retry `retry` if given (0: unreachable)."""
    headers = signed_headers(SANDBOX_SECRET, body,
                             content_type="application/x-www-form-urlencoded" if form else "application/json")
    if retry is not None:
        headers["X-Slack-Retry-Num"], headers["X-Slack-Retry-Reason"] = str(retry), "http_error"
    try:
        async with http.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError:
        return 0


async def http_status(http: aiohttp.ClientSession, url: str) -> int:
    """Status of a GET."""
    async with http.get(url) as resp:
        await resp.read()
        return resp.status


async def until(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Wait until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class WriteLock:
    """Another connection holding SQLite's write lock (in WAL mode, readers carry on)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)

    async def __aenter__(self) -> WriteLock:
        await asyncio.to_thread(self.conn.execute, "BEGIN EXCLUSIVE")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.conn.execute, "ROLLBACK")
        self.conn.close()


async def chain_texts(stack: LocalStack, incident_id: int) -> Counter[str]:
    """How many times each text is in an incident's chain."""
    async with stack.deps.session() as s:
        return Counter(e.text or "" for e in await chain.entries_of(s, incident_id))


def obs_numbers(texts: Counter[str]) -> list[int]:
    """The numbers of the `obs N: …` load messages in a chain, sorted, repeats kept."""
    return sorted(int(t.split(":")[0].removeprefix("obs ")) for t in texts.elements() if t.startswith("obs "))


async def verifies(stack: LocalStack, incident_id: int) -> bool:
    """True when the incident's chain, as stored now, verifies."""
    async with stack.deps.session() as s:
        incident = await s.get(Incident, incident_id)
        assert incident is not None
        return (await chain.verify_incident(s, incident)).ok


async def stored(url: str, incident_id: int) -> tuple[Counter[str], set[str], chain.ChainReport]:
    """Straight from the database: the chain's texts, every claimed event id, and the chain's verification."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            incident = await s.get(Incident, incident_id)
            assert incident is not None
            texts = (await s.exec(select(TimelineEntry.text).where(TimelineEntry.incident_id == incident_id)
                                  .order_by(col(TimelineEntry.seq)))).all()
            claimed = set((await s.exec(select(ProcessedEvent.event_id))).all())
            return Counter(t or "" for t in texts), claimed, await chain.verify_incident(s, incident)
    finally:
        await engine.dispose()


async def declared(driver: SlackDriver, url: str, title: str) -> Incident:
    """Declare an incident through Slack (the bot may be another process) and wait until it has its card."""
    result = await driver.command("alice", "#general", f"start {title} sev=2 type=infrastructure")
    assert result.ok
    engine = create_engine(url)
    try:
        for _ in range(100):
            async with session_factory(engine)() as s:
                found = await incidents.open_incidents(s, TEAM)
            if found and found[0].card_ts:
                return found[0]
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    raise AssertionError("the incident was not declared")
