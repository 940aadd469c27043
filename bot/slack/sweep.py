"""Sending due reminders: the sweep (claim, deliver, finish) and immediate delivery, through the same claims.

Any number of processes may sweep one database: claims (bot.followup.reminders) make each reminder go out once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.followup import nudges, prompts, reminders
from bot.slack import delivery
from bot.slack.client import deadline as slack_deadline
from storage.models import Reminder

log = logging.getLogger("retro.scheduler")
SEND_CONCURRENCY = 4
BATCH = 50
MARGIN_SECONDS = 5.0


@dataclass
class SweepReport:
    """What one sweep (or immediate delivery) did."""

    prompts: int = 0
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        """Reminders delivered."""
        return self.outcomes["sent"]


def worker_id() -> str:
    """A name for this scheduler that is unique across hosts and restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


async def sweep(deps: Deps, client: AsyncWebClient, *, now: datetime | None = None, worker: str | None = None,
                stop: asyncio.Event | None = None, batch: int = BATCH) -> SweepReport:
    """Create the prompts due now, then claim and deliver every due reminder (tests pass their clock's `now`)."""
    report = SweepReport()
    async with deps.session() as session:
        report.prompts = await prompts.materialize(session, catalog=deps.catalog, now=now or deps.now())
    await _drain(deps, client, report, now=now, worker=worker or worker_id(), ids=None, stop=stop, batch=batch)
    async with deps.session() as session:
        deps.metrics.reminders_pending.set(await reminders.waiting(session))
    return report


async def deliver_now(deps: Deps, client: AsyncWebClient, ids: Sequence[int | None], *,
                      now: datetime | None = None, worker: str | None = None) -> SweepReport:
    """Deliver these reminders right away through the same claims (a failure leaves them to the sweep)."""
    report = SweepReport()
    wanted = [i for i in ids if i is not None]
    if wanted:
        await _drain(deps, client, report, now=now, worker=worker or worker_id(), ids=wanted, stop=None,
                     batch=len(wanted))
    return report


async def _drain(deps: Deps, client: AsyncWebClient, report: SweepReport, *, now: datetime | None, worker: str,
                 ids: list[int] | None, stop: asyncio.Event | None, batch: int) -> None:
    cfg = deps.catalog.reminders
    lease = timedelta(seconds=cfg.claim_seconds)
    send_timeout = max(5.0, cfg.claim_seconds / 4)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    while not (stop is not None and stop.is_set()):
        started = loop.time()
        async with deps.session() as session:
            rows = await reminders.claim(session, worker=worker, now=now or deps.now(), lease=lease, limit=batch,
                                         ids=ids)
        if not rows:
            return
        report.claimed += len(rows)
        async with deps.session() as session:
            batch_data = await nudges.load_batch(session, rows)
        # A send starts only while it can finish well before the claim expires; otherwise the row is handed
        # back, so another scheduler never takes over a row this one is still sending.
        deadline = started + cfg.claim_seconds - send_timeout - MARGIN_SECONDS
        outcomes = await asyncio.gather(*(_one(deps, client, row, gate=gate, worker=worker, now=now, stop=stop,
                                               deadline=deadline, timeout=send_timeout, batch=batch_data)
                                          for row in rows))
        report.outcomes.update(o for o in outcomes if o != "skipped")
        for outcome in outcomes:
            if outcome != "skipped":  # sent, retry, failed, cancelled, lost, error
                deps.metrics.reminders.labels(result=outcome).inc()
        skipped = [row.id or 0 for row, o in zip(rows, outcomes, strict=True) if o == "skipped"]
        if skipped:
            async with deps.session() as session:
                await reminders.release(session, worker=worker, ids=skipped)
        if ids is not None:
            return


async def _one(deps: Deps, client: AsyncWebClient, row: Reminder, *, gate: asyncio.Semaphore, worker: str,
               now: datetime | None, stop: asyncio.Event | None, deadline: float, timeout: float,
               batch: nudges.Batch) -> str:
    async with gate:
        if (stop is not None and stop.is_set()) or asyncio.get_running_loop().time() > deadline:
            return "skipped"
        try:
            # A Retry-After longer than the send may last puts the reminder off (delayed) instead of timing it out.
            with slack_deadline(timeout):
                return await delivery.deliver(client, deps, row, worker=worker, now=now or deps.now(),
                                              timeout=timeout, batch=batch)
        except Exception:  # a bug or a database outage: the claim expires and the row is tried again
            log.exception("reminder %s failed unexpectedly; it is retried after its claim expires", row.id)
            return "error"
