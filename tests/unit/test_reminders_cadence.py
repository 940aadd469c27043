"""When reminders fire: the pure cadence functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.catalog import ReminderConfig
from bot.followup import cadence

UTC_TZ = ZoneInfo("UTC")
CFG = ReminderConfig()  # due soon 24 h before, overdue every 2 days, escalate after 3, at 09:00


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sequence(due: date, start: datetime, n: int, cfg: ReminderConfig = CFG,
             tz: ZoneInfo = UTC_TZ) -> list[tuple[str, datetime]]:
    out, after = [], start
    for _ in range(n):
        point = cadence.next_owner_point(due, after, cfg, tz)
        out.append((point.kind, point.at))
        after = point.at
    return out


def test_owner_sequence_due_soon_due_then_overdue_every_n_days() -> None:
    assert sequence(date(2026, 3, 10), at("2026-03-02T08:00"), 5) == [
        ("due_soon", at("2026-03-09T09:00")), ("due", at("2026-03-10T09:00")),
        ("overdue", at("2026-03-11T09:00")), ("overdue", at("2026-03-13T09:00")),
        ("overdue", at("2026-03-15T09:00"))]


def test_points_already_past_are_skipped_not_replayed() -> None:
    point = cadence.next_owner_point(date(2026, 3, 10), at("2026-03-14T10:00"), CFG, UTC_TZ)
    assert point == cadence.Point("overdue", at("2026-03-15T09:00"))
    late = cadence.next_owner_point(date(2026, 3, 10), at("2026-03-10T09:30"), CFG, UTC_TZ)
    assert late == cadence.Point("overdue", at("2026-03-11T09:00"))


def test_due_soon_can_be_turned_off_and_hours_are_absolute() -> None:
    off = ReminderConfig(due_soon_hours=0)
    assert cadence.next_owner_point(date(2026, 3, 10), at("2026-03-02T08:00"), off, UTC_TZ).kind == "due"
    six = ReminderConfig(due_soon_hours=6)
    assert cadence.next_owner_point(date(2026, 3, 10), at("2026-03-02T08:00"), six, UTC_TZ).at == at(
        "2026-03-10T03:00")


def test_reminders_follow_the_team_timezone_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Clocks go forward on 29 March 2026: 09:00 local is 08:00 UTC before, 07:00 UTC after.
    points = sequence(date(2026, 3, 28), at("2026-03-20T00:00"), 3, ReminderConfig(due_soon_hours=0), berlin)
    assert points == [("due", at("2026-03-28T08:00")), ("overdue", at("2026-03-29T07:00")),
                      ("overdue", at("2026-03-31T07:00"))]


def test_escalation_is_m_days_after_the_due_date_and_at_least_one() -> None:
    assert cadence.escalation_at(date(2026, 3, 10), CFG, UTC_TZ) == at("2026-03-13T09:00")
    assert cadence.escalation_at(date(2026, 3, 10), ReminderConfig(escalate_after_days=0), UTC_TZ) == at(
        "2026-03-11T09:00")


def test_snooze_never_brings_a_reminder_forward() -> None:
    due = date(2026, 3, 20)
    now = at("2026-03-02T10:00")
    # The next regular reminder (due soon, 19 March) is later than a day from now: it stays.
    assert cadence.snoozed_point(due, now, now + timedelta(days=1), CFG, UTC_TZ).kind == "due_soon"
    overdue_now = at("2026-03-21T10:00")
    snoozed = cadence.snoozed_point(due, overdue_now, overdue_now + timedelta(days=7), CFG, UTC_TZ)
    assert snoozed == cadence.Point("snoozed", overdue_now + timedelta(days=7))


def test_backoff_doubles_and_is_capped() -> None:
    assert [cadence.backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert cadence.backoff(20, 60) == timedelta(hours=1)


def test_latest_window_picks_the_newest_due_prompt() -> None:
    anchor = at("2026-03-02T08:00")
    assert cadence.latest_window(anchor, 30, at("2026-03-02T08:29")) is None
    assert cadence.latest_window(anchor, 30, at("2026-03-02T08:30")) == at("2026-03-02T08:30")
    assert cadence.latest_window(anchor, 30, at("2026-03-02T09:45")) == at("2026-03-02T09:30")


def test_days_overdue_and_local_today() -> None:
    assert cadence.days_overdue(date(2026, 3, 10), date(2026, 3, 13)) == 3
    assert cadence.days_overdue(date(2026, 3, 10), date(2026, 3, 9)) == 0
    assert cadence.local_today(at("2026-03-02T23:30"), ZoneInfo("Asia/Tokyo")) == date(2026, 3, 3)
