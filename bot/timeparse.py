"""Times and dates as users type them: ISO, relative (`-2h`, `+3d`, `+1w`), `now`, `today`; due dates in words
(`tomorrow`, `friday`, `next week`, `in 3 days`, `eod`); and `at=`: when something already happened (`10:05`,
`"yesterday 23:10"`, `"friday 16:30"`, `2026-12-06T10:05Z`, `-15m`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UsageError

_REL = re.compile(r"^([+-])(\d{1,5})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = "|".join([*WEEKDAYS, *(d[:3] for d in WEEKDAYS)])
_DAY = re.compile(rf"^(today|yesterday|(?:last\s+)?(?:{_WEEKDAY}))(?:\s+(.*))?$", re.IGNORECASE)
_IN = re.compile(r"^in\s+(\d{1,4}|an?|one)\s+(day|week)s?$")
_NEXT = re.compile(rf"^(?:next|this|on)\s+({_WEEKDAY})$")
DUE_FORMS = "YYYY-MM-DD, +3d, +1w, today, eod, tomorrow, friday, next week, \"in 3 days\""
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OCCURRED_FORMS = ('10:05 (today, team time), "yesterday 23:10", "friday 16:30", 2026-12-06T10:05Z, or '
                  '-15m / -2h / -1d')
# How far back `at=` reaches: incidents are recorded late, but not years late (a typo in the year is more likely).
MAX_PAST = timedelta(days=366)


def parse_when(text: str, *, now: datetime, usage: str, tz: ZoneInfo | None = None) -> datetime:
    """A point in time; naive ISO times are read in the team's timezone (UTC by default)."""
    raw = text.strip()
    if raw.lower() == "now":
        return now
    m = _REL.match(raw)
    if m:
        delta = timedelta(**{_UNITS[m.group(3)]: int(m.group(2))})
        return now + delta if m.group(1) == "+" else now - delta
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"`{raw}` is not a time (use ISO like 2026-05-01T14:10, or -2h, -30m).", usage) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or UTC)
    return value.astimezone(UTC)


def weekday(word: str) -> int | None:
    """Monday 0 … Sunday 6 for a day's name or its first three letters."""
    word = word.lower()
    return next((n for n, day in enumerate(WEEKDAYS) if word in (day, day[:3])), None)


def _due_in_words(raw: str, today: date) -> date | None:
    """`eod`, `tomorrow`, a weekday (the next one after today), `next week` (its Monday), `end of week` (Friday),
    `in 3 days`, `in a week`."""
    raw = " ".join(raw.split())
    if raw in ("today", "eod", "end of day", "tonight"):
        return today
    if raw in ("tomorrow", "tmrw", "tmr"):
        return today + timedelta(days=1)
    if raw in ("eow", "end of week", "end of the week", "this week"):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    if raw == "next week":
        return today + timedelta(days=7 - today.weekday())
    if (m := _NEXT.match(raw)) or (m := re.fullmatch(rf"({_WEEKDAY})", raw)):
        day = weekday(m.group(1))
        assert day is not None
        return today + timedelta(days=(day - today.weekday() - 1) % 7 + 1)
    if m := _IN.match(raw):
        n = int(m.group(1)) if m.group(1).isdigit() else 1
        return today + timedelta(days=n * (7 if m.group(2) == "week" else 1))
    return None


def parse_due(text: str, *, today: date, usage: str) -> date:
    """A due date: YYYY-MM-DD, `+3d`, `+1w`, or in words (`today`, `eod`, `tomorrow`, `friday`, `next week`,
    `in 3 days`); a weekday is the next one after today."""
    raw = text.strip().lower()
    if (found := _due_in_words(raw, today)) is not None:
        return found
    m = re.fullmatch(r"\+(\d{1,4})([dw])", raw)
    if m:
        n = int(m.group(1))
        return today + timedelta(days=n * (7 if m.group(2) == "w" else 1))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"`{text[:60]}` is not a due date (use {DUE_FORMS}).", usage) from None


def _clock(text: str, day: date, tz: ZoneInfo) -> datetime | None:
    m = _CLOCK.match(text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    # A wall-clock time in a DST gap or overlap takes the first reading, as zoneinfo does by default.
    return datetime.combine(day, time(hour, minute, second), tzinfo=tz).astimezone(UTC)


def _day_back(said: str, today: date) -> date:
    """The day `today`, `yesterday`, `friday` (the latest Friday, today included) or `last friday` (before today)
    names, looking back."""
    if said in ("today", "yesterday"):
        return today - timedelta(days=said == "yesterday")
    day = weekday(said.split()[-1])
    assert day is not None
    back = (today.weekday() - day) % 7
    return today - timedelta(days=back or (7 if said.startswith("last") else 0))


def _occurred(raw: str, now: datetime, tz: ZoneInfo, usage: str, key: str) -> datetime | None:
    today = now.astimezone(tz).date()
    if raw.lower() == "now":
        return now
    if m := _REL.match(raw):
        delta = timedelta(**{_UNITS[m.group(3)]: int(m.group(2))})
        return now + delta if m.group(1) == "+" else now - delta
    if m := _DAY.match(raw):
        said = " ".join(m.group(1).lower().split())
        if not m.group(2):
            raise UsageError(f'`{key}={raw}` needs a time of day, in quotes: {key}="{said} 23:10".', usage)
        return _clock(m.group(2).strip(), _day_back(said, today), tz)
    if (found := _clock(raw, today, tz)) is not None:
        return found
    if _DATE_ONLY.match(raw):
        raise UsageError(f"`{key}={raw}` is a day; give the time too, like {raw}T10:05 (team time) or "
                         f"{raw}T10:05Z.", usage)
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" and raw else raw)
    except ValueError:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=tz)).astimezone(UTC)


def spoken(at: datetime, *, now: datetime, tz: ZoneInfo) -> str:
    """A time as a reply says it, in the team's timezone: `10:05 CET`, `yesterday 23:10 CET`, `2026-12-01 10:05 CET`."""
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    day = "" if local.date() == today else "yesterday " if local.date() == today - timedelta(days=1) \
        else f"{local:%Y-%m-%d} "
    return f"{day}{local:%H:%M} {local.tzname() or tz.key}"


def parse_occurred(text: str, *, now: datetime, tz: ZoneInfo, usage: str, key: str = "at") -> datetime:
    """When something already happened, from `at=` (or another `key=`): a wall-clock time today or yesterday in the
    team's timezone, an ISO time (team time without an offset) or a time ago; never in the future, at most a year
    back."""
    raw = text.strip()
    value = _occurred(raw, now, tz, usage, key) if raw else None
    if value is None:
        raise UsageError(f"`{key}={raw[:60]}` is not a time. Use {OCCURRED_FORMS}.", usage)
    if value > now:
        hint = (f' For {raw} yesterday, write {key}="yesterday {raw}".' if _CLOCK.match(raw)
                else f" For {raw[1:]} ago, write {key}=-{raw[1:]}." if raw.startswith("+") else "")
        raise UsageError(f"`{key}={raw[:60]}` is in the future ({spoken(value, now=now, tz=tz)}; it is "
                         f"{spoken(now, now=now, tz=tz)} now): `{key}=` says when something already happened."
                         f"{hint}", usage)
    if value < now - MAX_PAST:
        raise UsageError(f"`{key}={raw[:60]}` is more than a year ago; check the date.", usage)
    return value
