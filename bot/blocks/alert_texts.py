"""Messages about alert notifications: the alerts an incident was declared from or was told of, and the notice in
the alerts channel. Every word that came with an alert (labels, annotations) is echoed: it can never ping."""

from __future__ import annotations

from datetime import datetime

from bot.alerts.batch import Alert
from bot.blocks.kit import echo, when
from bot.catalog import Catalog
from storage.models import Incident

MAX_LINES = 20  # alerts listed in one message; the rest are counted (every one is evidence and in the timeline)


def alert_name(alert: Alert) -> str:
    """An alert's name as shown: echoed, never markup."""
    return echo(alert.name, 200)


def alert_line(alert: Alert, change: str) -> str:
    """One alert: its name, what changed (`firing`, `firing again`, `resolved`) and since when, and its summary."""
    at, word = (alert.ends_at, "at") if change == "resolved" else (alert.starts_at, "since")
    summary = alert.annotations.get("summary", "").strip()
    tail = f" — {echo(summary, 300)}" if summary else ""
    return f"• *{alert_name(alert)}* {change}{f' {word} {when(at)}' if at else ''}{tail}"


def alerts_text(heading: str, lines: list[str]) -> str:
    """A heading and up to MAX_LINES alert lines; how many more there were."""
    shown = lines[:MAX_LINES]
    more = len(lines) - len(shown)
    return "\n".join([heading, *shown, *([f"…and {more} more (all of them are evidence)"] if more else [])])


def declared_heading(source: str, receiver: str, count: int) -> str:
    """The first words of the message in a channel declared from an alert group."""
    by = f" through receiver `{echo(receiver, 100)}`" if receiver else ""
    return f":rotating_light: Declared from {count} alert(s) sent by {echo(source, 40)}{by}; each is kept as evidence:"


def joined_heading(count: int) -> str:
    """The first words of an update about alerts of an incident's group."""
    return f":bell: {count} alert change(s) from this incident's alert group:"


def announce_text(incident: Incident, catalog: Catalog, detected_at: datetime | None) -> str:
    """Posted in the alerts channel: the new incident and where it is (a private one says neither title nor
    channel)."""
    sev = catalog.severity(incident.severity)
    level = sev.name if sev else str(incident.severity)
    since = f", firing since {when(detected_at)}" if detected_at else ""
    if incident.private:
        return f":rotating_light: A private {level} incident was declared from an alert{since}."
    return (f":rotating_light: {level} incident declared from an alert{since}: *{echo(incident.title, 150)}* "
            f"→ <#{incident.channel_id}>")
