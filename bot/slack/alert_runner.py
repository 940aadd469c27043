"""The alert runner of one process: claims alert groups with news and hands each pending notice, in order, to the
Slack side (bot/slack/alert_flow.py `handle`).

It looks every RETRO_ALERT_SWEEP_SECONDS and right after this process records a notice (`AlertSignal`). Groups run
side by side, a group's notices one after another; the claim is renewed while a notice is handled. A notice whose
handling raises stays pending and its group waits a little before another try (5 s, 10 s, 20 s, 40 s); the fifth
failure marks it failed and the group moves on. Another replica takes over a group whose worker died once its lease
runs out, so each notice is handled once unless a process dies in the middle of handling it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import claims
from bot.alerts.batch import AlertBatch
from bot.alerts.intake import AlertSignal
from bot.deps import Deps
from bot.slack.alert_flow import Handled, handle
from bot.slack.sweep import worker_id
from storage.alert_tables import AlertGroupRow, AlertNotice

log = logging.getLogger("retro.alerts")
LEASE = timedelta(seconds=60)
CLAIM_BATCH = 20
PARALLEL_GROUPS = 4
RETRY_AFTER = (5, 10, 20, 40)  # seconds before the 2nd … 5th try of a notice that raised


# `handle(client, deps, group, notice, batch, *, worker)`; tests pass their own.
AlertHandler = Callable[..., Awaitable[Handled]]


class AlertRunner:
    """Claims groups and processes their notices until stopped; `sweep()` runs one pass (tests call it)."""

    def __init__(self, deps: Deps, client: AsyncWebClient, *, handler: AlertHandler | None = None,
                 worker: str | None = None, lease: timedelta = LEASE) -> None:
        self.deps, self.client = deps, client
        self.handler = handler or handle
        self.worker = worker or worker_id()
        self.lease = lease
        self.signal = deps.get(AlertSignal) if AlertSignal in deps.services else AlertSignal()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._slots = asyncio.Semaphore(PARALLEL_GROUPS)

    async def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._loop(), name="retro-alerts")
        log.info("alert runner %s started (sweep every %ss)", self.worker, self.deps.settings.retro_alert_sweep_seconds)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("alert sweep failed; the next one picks up where it stopped")
            await self.signal.wait(self.deps.settings.retro_alert_sweep_seconds)

    async def sweep(self) -> int:
        """Claim and process groups until none is waiting; returns how many notices were finished."""
        done = 0
        async with self._busy:
            while not self._stopping.is_set():
                async with self.deps.session() as session:
                    groups = await claims.claim_groups(session, worker=self.worker, now=self.deps.now(),
                                                       lease=self.lease, limit=CLAIM_BATCH)
                if not groups:
                    return done
                results = await asyncio.gather(*(self._guarded(g) for g in groups), return_exceptions=True)
                for group, result in zip(groups, results, strict=True):
                    if isinstance(result, BaseException):  # the database, most likely: the lease runs out
                        log.error("alert group failed", exc_info=result, extra={"group": group.id})
                    else:
                        done += result
        return done

    async def _guarded(self, group: AlertGroupRow) -> int:
        async with self._slots:
            return await self.process(group)

    async def process(self, group: AlertGroupRow) -> int:
        """Handle a claimed group's pending notices in order, then release it (or leave it for a retry)."""
        assert group.id is not None
        done = 0
        async with self.deps.session() as session:
            notices = await claims.pending_notices(session, group.id)
        for notice in notices:
            if self._stopping.is_set():
                break
            async with self.deps.session() as session:
                fresh = await claims.get_group(session, group.id)
            if fresh is None or fresh.claimed_by != self.worker:
                log.warning("alert group claim lost", extra={"group": group.id, "worker": self.worker})
                return done
            result = await self._one(fresh, notice)
            if result is None:
                return done  # postponed: the claim is kept until the retry time
            done += result
        async with self.deps.session() as session:
            await claims.release_group(session, group.id, worker=self.worker)
        return done

    async def _one(self, group: AlertGroupRow, notice: AlertNotice) -> int | None:
        """1 when the notice was finished, 0 when it failed for good, None when it waits for a retry."""
        assert group.id is not None and notice.id is not None
        batch = AlertBatch.from_json(notice.batch)
        try:
            async with self._heartbeat(group.id):
                handled = await self.handler(self.client, self.deps, group, notice, batch, worker=self.worker)
        except Exception as exc:
            log.exception("alert notice failed", extra={"notice": notice.id, "group": group.id,
                                                        "attempt": notice.attempts + 1})
            error = f"{type(exc).__name__}: {exc}"
            async with self.deps.session() as session:
                gave_up = await claims.fail_attempt(session, notice.id, error=error, now=self.deps.now(),
                                                    worker=self.worker)
                if gave_up:
                    self.deps.metrics.alerts.labels(source=batch.source, outcome="failed").inc()
                    return 0
                wait = RETRY_AFTER[min(notice.attempts, len(RETRY_AFTER) - 1)]
                await claims.postpone_group(session, group.id, worker=self.worker,
                                            until=self.deps.now() + timedelta(seconds=wait))
            return None
        async with self.deps.session() as session:
            finished = await claims.finish_notice(session, notice.id, outcome=handled.outcome,
                                                  incident_id=handled.incident_id, now=self.deps.now(),
                                                  worker=self.worker)
        if finished:
            self.deps.metrics.alerts.labels(source=batch.source, outcome=handled.outcome).inc()
            log.info("alert notice handled", extra={"notice": notice.id, "group": group.id,
                                                    "outcome": handled.outcome, "incident": handled.incident_id})
        return 1

    @contextlib.asynccontextmanager
    async def _heartbeat(self, group_id: int) -> AsyncIterator[None]:
        """Renew the group's claim every third of the lease while a notice is being handled."""
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease.total_seconds() / 3)
                async with self.deps.session() as session:
                    if not await claims.renew_group(session, group_id, worker=self.worker, now=self.deps.now(),
                                                    lease=self.lease):
                        log.warning("alert group claim lost while handling", extra={"group": group_id})
                        return

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def stop(self, timeout: float = 30.0) -> int:
        """Stop taking work, let the current notices finish, hand held groups back; returns how many."""
        self._stopping.set()
        self.signal.wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.warning("alert runner still busy after %ss; stopping anyway", timeout)
                self._task.cancel()
        async with self.deps.session() as session:
            released = await claims.release_worker(session, worker=self.worker)
        log.info("alert runner %s stopped (%d groups handed back)", self.worker, released)
        return released


async def start_alert_runner(deps: Deps, client: AsyncWebClient, **options: Any) -> AlertRunner:
    """The hook `retro serve` and the local stack use: build and start a runner (stop it with `.stop()`)."""
    runner = AlertRunner(deps, client, **options)
    await runner.start()
    return runner
