"""Times and dates as users type them: ISO, relative (`-2h`, `+3d`, `+1w`), `now`, `today`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UsageError

_REL = re.compile(r"^([+-])(\d{1,5})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


def parse_due(text: str, *, today: date, usage: str) -> date:
    """A due date: YYYY-MM-DD, `+3d`, `+1w`, `today`, `tomorrow`."""
    raw = text.strip().lower()
    if raw == "today":
        return today
    if raw == "tomorrow":
        return today + timedelta(days=1)
    m = re.fullmatch(r"\+(\d{1,4})([dw])", raw)
    if m:
        n = int(m.group(1))
        return today + timedelta(days=n * (7 if m.group(2) == "w" else 1))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"`{text}` is not a due date (use YYYY-MM-DD, +3d or +1w).", usage) from None
