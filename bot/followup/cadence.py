"""When reminders fire: pure functions over due dates, the team's timezone and its cadences (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.catalog import ReminderConfig

MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Point:
    """One reminder moment: its kind and when it fires (aware UTC)."""

    kind: str
    at: datetime


def local_at(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """`hhmm` on `day` in `tz`, as an aware UTC datetime (a DST gap moves it forward, as clocks do)."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The calendar date in the team's timezone."""
    return now.astimezone(tz).date()


def days_overdue(due: date, today: date) -> int:
    """Whole days past the due date (0 when not overdue)."""
    return max(0, (today - due).days)


def due_moment(due: date, cfg: ReminderConfig, tz: ZoneInfo) -> datetime:
    """When the due-day reminder goes out."""
    return local_at(due, cfg.time_of_day, tz)


def next_owner_point(due: date, after: datetime, cfg: ReminderConfig, tz: ZoneInfo) -> Point:
    """The owner's first regular reminder strictly after `after`: due soon, due, then overdue every N days."""
    due_at = due_moment(due, cfg, tz)
    if cfg.due_soon_hours > 0:
        soon = due_at - timedelta(hours=cfg.due_soon_hours)
        if soon > after:
            return Point("due_soon", soon)
    if due_at > after:
        return Point("due", due_at)
    first = due + timedelta(days=1)
    every = cfg.overdue_every_days
    steps = max(0, (local_today(after, tz) - first).days // every)
    while True:
        at = local_at(first + timedelta(days=steps * every), cfg.time_of_day, tz)
        if at > after:
            return Point("overdue", at)
        steps += 1


def escalation_at(due: date, cfg: ReminderConfig, tz: ZoneInfo) -> datetime:
    """When the commander is told that an item is still open past its due date (at least one day late)."""
    return local_at(due + timedelta(days=max(1, cfg.escalate_after_days)), cfg.time_of_day, tz)


def snoozed_point(due: date, now: datetime, until: datetime, cfg: ReminderConfig, tz: ZoneInfo) -> Point:
    """After a snooze the next owner reminder is the regular one, but never before `until`."""
    regular = next_owner_point(due, now, cfg, tz)
    return regular if regular.at >= until else Point("snoozed", until)


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Retry delay after the n-th failed attempt: base, 2×base, 4×base… capped at one hour."""
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def latest_window(anchor: datetime, every_minutes: int, now: datetime) -> datetime | None:
    """The latest `anchor + k × every` (k ≥ 1) that is not after `now`, or None before the first one."""
    step = timedelta(minutes=every_minutes)
    if now < anchor + step:
        return None
    return anchor + step * ((now - anchor) // step)
