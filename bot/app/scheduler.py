"""The jobs of one process: the periodic reminder sweep, the weekly digest, the monthly process audit, the daily
retention purge and the hourly pruning of old event claims.

APScheduler only says *when* to look; the reminder rows say *what* is due (bot.slack.sweep sends them).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.alerts.claims import forget_notices
from bot.deps import Deps
from bot.errors import ConfigError
from bot.followup import prompts, reminders
from bot.insights import audit_log
from bot.record import dedupe, pending_files, retention
from bot.slack.app_home import HomeWatch
from bot.slack.client import WebClient
from bot.slack.hashing import finish_pending
from bot.slack.sweep import SweepReport, deliver_now, sweep, worker_id

log = logging.getLogger("retro.scheduler")
DIGEST_CATCH_UP = timedelta(hours=24)


def digest_trigger(deps: Deps) -> CronTrigger:
    """The weekly digest's cron trigger from Catalog.digest (day_of_week, time, timezone)."""
    cfg = deps.catalog.digest
    try:
        tz = ZoneInfo(cfg.timezone)
        hour, minute = (int(x) for x in cfg.time.split(":"))
        return CronTrigger(day_of_week=cfg.day_of_week, hour=hour, minute=minute, timezone=tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"RETRO_CONFIG: digest: {exc}") from None


def audit_trigger(deps: Deps) -> CronTrigger:
    """The monthly audit's cron trigger: Catalog.audit's day and time, in the digest's time zone."""
    cfg = deps.catalog.audit
    hour, minute = (int(x) for x in cfg.time.split(":"))
    return CronTrigger(day=cfg.day_of_month, hour=hour, minute=minute, timezone=digest_trigger(deps).timezone)


def last_fire(trigger: CronTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The trigger's latest fire time in (now - window, now], if any."""
    found, probe = None, now - window
    while (nxt := trigger.get_next_fire_time(None, probe)) is not None and nxt <= now:
        found, probe = nxt, nxt + timedelta(seconds=1)
    return found


class ReminderScheduler:
    """The periodic sweep, the weekly digest, the daily retention purge and the hourly event-claim pruning of one
    process; `stop()` waits for the sweep and releases claims."""

    def __init__(self, deps: Deps, client: WebClient, *, worker: str | None = None) -> None:
        self.deps, self.client = deps, client
        self.worker = worker or worker_id()
        self.homes = HomeWatch()
        self.last_report: SweepReport | None = None
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()
        self._aps: AsyncIOScheduler | None = None
        self._first_files_pass = True

    async def start(self) -> None:
        """Start the jobs: a sweep every `reminders.sweep_seconds`, the digest on its cron (caught up if missed)."""
        cfg = self.deps.catalog
        aps = AsyncIOScheduler(timezone=UTC)
        aps.add_job(self.tick, IntervalTrigger(seconds=cfg.reminders.sweep_seconds, timezone=UTC), id="retro-sweep",
                    max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(UTC))
        if cfg.digest.channel:
            trigger = digest_trigger(self.deps)
            aps.add_job(self.digest, trigger, id="retro-digest", max_instances=1, coalesce=True,
                        misfire_grace_time=int(DIGEST_CATCH_UP.total_seconds()))
            missed = last_fire(trigger, self.deps.now(), DIGEST_CATCH_UP)
            if missed is not None:
                aps.add_job(self.digest, "date", run_date=datetime.now(UTC), id="retro-digest-catch-up",
                            kwargs={"day": missed.astimezone(ZoneInfo(cfg.digest.timezone)).date()})
        if cfg.digest.channel and cfg.audit.monthly:  # the month's audit is recorded once, whoever runs it
            trigger = audit_trigger(self.deps)
            aps.add_job(self.audit_month, trigger, id="retro-audit", max_instances=1, coalesce=True,
                        misfire_grace_time=int(DIGEST_CATCH_UP.total_seconds()))
            if last_fire(trigger, self.deps.now(), DIGEST_CATCH_UP) is not None:
                aps.add_job(self.audit_month, "date", run_date=datetime.now(UTC), id="retro-audit-catch-up")
        if self.deps.settings.retro_retention_days:  # idempotent, so every replica may run it
            aps.add_job(self.retain, IntervalTrigger(days=1, timezone=UTC), id="retro-retention", max_instances=1,
                        coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(UTC))
        aps.add_job(self.forget_deliveries, IntervalTrigger(hours=1, timezone=UTC), id="retro-event-dedupe",
                    max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(UTC))
        aps.start()
        self._aps = aps
        log.info("reminder scheduler %s started (sweep every %ss)", self.worker, cfg.reminders.sweep_seconds)

    async def retain(self) -> dict[int, int]:
        """The daily retention purge (RETRO_RETENTION_DAYS): message text of long-closed incidents; hashes stay."""
        days = self.deps.settings.retro_retention_days
        if not days or self._stop.is_set():
            return {}
        try:
            async with self.deps.session() as session:
                purged = await retention.purge(session, days=days, now=self.deps.now())
        except Exception:
            log.exception("retention purge failed; it runs again tomorrow")
            return {}
        if purged:
            log.info("retention purged message text", extra={"incidents": len(purged), "entries": sum(purged.values()),
                                                             "days": days})
        return purged

    async def forget_deliveries(self) -> int:
        """The hourly pruning of event claims older than RETRO_EVENT_DEDUPE_HOURS and of alert notifications
        handled more than RETRO_ALERT_KEEP_DAYS ago (idempotent: every replica runs it); returns how many went."""
        hours = self.deps.settings.retro_event_dedupe_hours
        if self._stop.is_set():
            return 0
        days = self.deps.settings.retro_alert_keep_days
        try:
            async with self.deps.session() as session:
                removed = await dedupe.prune(session, hours=hours, now=self.deps.now())
                notices = await forget_notices(session, days=days, now=self.deps.now())
        except Exception:
            log.exception("pruning event claims or alert notifications failed; it runs again within the hour")
            return 0
        if removed or notices:
            log.info("pruned old event claims and alert notifications", extra={"claims": removed, "hours": hours,
                                                                              "notices": notices, "days": days})
        return removed + notices

    async def tick(self) -> SweepReport | None:
        """One sweep plus the Home refresh; skipped while the previous one still runs."""
        if self._stop.is_set() or self._busy.locked():
            return None
        async with self._busy:
            try:
                self.last_report = await sweep(self.deps, self.client, worker=self.worker, stop=self._stop)
                await self.homes.check(self.client, self.deps)
            except Exception:
                log.exception("reminder sweep failed; the next one picks up where it stopped")
                return None
            finally:
                await self.files()
            return self.last_report

    async def files(self) -> int:
        """Chain the digests of shared files left pending: every pending one on this process's first pass (a
        previous process may have died after acking them), later only those the listener did not finish."""
        try:
            done = await finish_pending(self.client, self.deps, worker=self.worker, stop=self._stop,
                                        every=self._first_files_pass)
        except Exception:
            log.exception("pending file hashes failed; the next sweep picks them up")
            return 0
        self._first_files_pass = False
        return done

    async def digest(self, day: date | None = None) -> SweepReport:
        """Enqueue this week's digest for every workspace (once, whichever scheduler is first) and send it."""
        async with self._busy:
            async with self.deps.session() as session:
                ids = await prompts.enqueue_digests(session, catalog=self.deps.catalog, now=self.deps.now(), day=day)
            return await deliver_now(self.deps, self.client, ids, worker=self.worker)

    async def audit_month(self) -> SweepReport:
        """Audit last month for every workspace (once, whichever scheduler is first) and post it to the digest
        channel."""
        async with self._busy:
            async with self.deps.session() as session:
                ids = await audit_log.enqueue_monthly(session, settings=self.deps.settings, catalog=self.deps.catalog,
                                                      now=self.deps.now())
            return await deliver_now(self.deps, self.client, ids, worker=self.worker)

    async def stop(self, timeout: float = 30.0) -> int:
        """Stop taking work, let an in-flight sweep finish its current sends, release what is left; returns that."""
        self._stop.set()
        try:
            await asyncio.wait_for(self._busy.acquire(), timeout)
            self._busy.release()
        except TimeoutError:
            log.warning("reminder sweep still running after %ss; stopping anyway", timeout)
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        async with self.deps.session() as session:
            released = await reminders.release(session, worker=self.worker)
            await pending_files.release(session, worker=self.worker)
        log.info("reminder scheduler %s stopped (%d claims released)", self.worker, released)
        return released


async def start_scheduler(deps: Deps, client: WebClient) -> ReminderScheduler:
    """The hook `retro serve` and the local stack use: build and start a scheduler (stop it with `.stop()`)."""
    scheduler = ReminderScheduler(deps, client)
    await scheduler.start()
    return scheduler

