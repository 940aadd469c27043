"""The audits a workspace ran, kept: each report stored as it was with the SHA-256 of its canonical JSON, and the
digest of the workspace's previous audit inside it, so that the audits form a chain of their own.

The monthly audit covers the previous calendar month in the digest's time zone; `monthly_due` says whether a
workspace's audit of a month was already recorded (whichever scheduler is first records it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import canonical_json, iso, sha256_hex
from bot.catalog import Catalog
from bot.config import Settings
from bot.followup import reminders
from bot.insights.audits import build_report
from bot.insights.stats import Period
from storage.loop_tables import ProcessAudit
from storage.models import Incident, Reminder, Workspace

SCHEDULE = "schedule"  # run_by of the monthly audits
PAGE = 10


def report_digest(report: dict[str, Any]) -> str:
    """SHA-256 of a report's canonical JSON."""
    return sha256_hex(canonical_json(report))


def intact(row: ProcessAudit) -> bool:
    """Whether a stored report still matches the digest recorded with it."""
    return report_digest(row.report) == row.report_sha256


async def latest(session: AsyncSession, team_id: str) -> ProcessAudit | None:
    """The workspace's most recent audit."""
    rows = await session.exec(select(ProcessAudit).where(ProcessAudit.team_id == team_id)
                              .order_by(col(ProcessAudit.id).desc()).limit(1))
    return rows.first()


async def record(session: AsyncSession, *, settings: Settings, catalog: Catalog, team_id: str, period: Period,
                 run_by: str, now: datetime, month: str | None = None) -> ProcessAudit:
    """Run the audit of the period and keep it (the caller commits)."""
    report = await build_report(session, settings=settings, catalog=catalog, team_id=team_id, period=period,
                                now=now)
    before = await latest(session, team_id)
    report["previous_sha256"] = before.report_sha256 if before is not None else None
    report["run_by"], report["run_at"] = run_by, iso(now)
    if month is not None:
        report["month"] = month
    row = ProcessAudit(team_id=team_id, period_start=period.since, period_end=period.until, run_at=now,
                       run_by=run_by, score=report["score"] or "n/a", report=report,
                       report_sha256=report_digest(report))
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Listed:
    """One past audit as `/retro audits` shows it: its number in the workspace (1 = the first) and its row."""

    number: int
    row: ProcessAudit
    intact: bool


async def count(session: AsyncSession, team_id: str) -> int:
    """How many audits the workspace ran."""
    return int((await session.exec(select(func.count()).select_from(ProcessAudit)
                                   .where(ProcessAudit.team_id == team_id))).one())


async def listing(session: AsyncSession, team_id: str, *, page: int = 1) -> tuple[list[Listed], int]:
    """A page of the workspace's audits, newest first, and how many there are."""
    total = await count(session, team_id)
    rows = (await session.exec(select(ProcessAudit).where(ProcessAudit.team_id == team_id)
                               .order_by(col(ProcessAudit.id).desc())
                               .offset((page - 1) * PAGE).limit(PAGE))).all()
    first = total - (page - 1) * PAGE
    return [Listed(first - n, row, intact(row)) for n, row in enumerate(rows)], total


def previous_month(now: datetime, tz: ZoneInfo) -> tuple[str, Period]:
    """The calendar month before `now`'s (local time): its name (`2026-11`) and its period."""
    today = now.astimezone(tz).date()
    end = date(today.year, today.month, 1)
    start = (end - timedelta(days=1)).replace(day=1)
    since = datetime.combine(start, time(0), tz)
    until = datetime.combine(end, time(0), tz) - timedelta(microseconds=1)
    return f"{start:%Y-%m}", Period(start.strftime("%B %Y"), since, until)


async def monthly_teams(session: AsyncSession, period: Period) -> list[str]:
    """Workspaces the monthly audit covers: installed ones, and any with an incident closed in the period."""
    installed = await session.exec(select(Workspace.team_id).where(col(Workspace.uninstalled_at).is_(None)))
    closed = await session.exec(select(Incident.team_id).where(
        col(Incident.closed_at) >= period.since, col(Incident.closed_at) <= period.until).distinct())
    return sorted(set(installed.all()) | set(closed.all()))


async def enqueue_monthly(session: AsyncSession, *, settings: Settings, catalog: Catalog,
                          now: datetime) -> list[int]:
    """Audit last month for every workspace and queue its post to the digest channel (a reminder of kind `audit`);
    a month already audited for a workspace is skipped, whichever scheduler got there first. Commits."""
    if not catalog.digest.channel:
        return []
    month, period = previous_month(now, ZoneInfo(catalog.digest.timezone))
    queued = []
    for team in await monthly_teams(session, period):
        key = f"audit:{team}:{month}"
        if (await session.exec(select(Reminder.id).where(Reminder.dedupe_key == key))).first() is not None:
            continue
        row = await record(session, settings=settings, catalog=catalog, team_id=team, period=period,
                           run_by=SCHEDULE, now=now, month=month)
        found = await reminders.add(session, team_id=team, kind="audit", due_at=now,
                                    dedupe_key=key, data={"audit_id": row.id, "month": month})
        if found is None:  # audited already: keep the first one only
            await session.rollback()
            continue
        await session.commit()
        queued.append(found)
    return queued
