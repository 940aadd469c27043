"""The filters every postmortem template uses, and the `finalize` that escapes every `{{ … }}`.

They read two things from the render's context: `people` (display names by user id) and the document's format.
Documents of format retro-incident/1 and /2 render exactly as they always did (their bundles re-render byte for
byte): Slack markup is kept as escaped text and times are ISO-like with UTC beside them. Later documents get Slack's
mrkdwn as Markdown (bot.postmortem.mrkdwn) and times people read: `Thu 12 Mar 2026, 14:30 CET`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context

from bot.postmortem import escaping, mrkdwn
from bot.postmortem.document import LEGACY_FORMATS
from bot.postmortem.escaping import Markdown
from bot.postmortem.measures import humanise

_CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _people(ctx: Context) -> dict[str, str]:
    people = ctx.get("people")
    return people if isinstance(people, dict) else {}


def legacy(ctx: Context) -> bool:
    """Whether the document being rendered is of a format that keeps the first rendering."""
    doc = ctx.get("doc")
    return isinstance(doc, dict) and doc.get("format") in LEGACY_FORMATS


@pass_context
def md(ctx: Context, text: Any) -> Markdown:
    """A value as inline Markdown: Slack markup readable, user text escaped; what already is Markdown stays."""
    if isinstance(text, Markdown):
        return text
    if text is None:
        return Markdown("")
    if legacy(ctx):
        return escaping.inline(str(text), _people(ctx))
    return mrkdwn.inline(str(text), _people(ctx))


@pass_context
def cell(ctx: Context, text: Any) -> Markdown:
    """`md` for a table cell: the same escaping (it is cell-safe); Markdown a macro wrote gets `<br>` for newlines."""
    if isinstance(text, Markdown):
        return Markdown(text.replace("\r", "").replace("\n", escaping.BREAK))
    return md(ctx, text)


@pass_context
def block(ctx: Context, text: Any, indent: int = 2) -> Markdown:
    """Text over several lines, each continuation indented by `indent`."""
    if isinstance(text, Markdown):
        return Markdown(text.replace("\n", "\n" + " " * indent))
    if text is None:
        return Markdown("")
    if legacy(ctx):
        return escaping.block(str(text), _people(ctx), indent)
    return mrkdwn.block(str(text), _people(ctx), indent)


def code(text: Any) -> Markdown:
    """A code span holding any text."""
    return escaping.code("" if text is None else str(text))


@pass_context
def who(ctx: Context, uid: str | None) -> Markdown:
    """A user id as `@name` (the name captured in the document), escaped."""
    if not uid:
        return Markdown("—")
    return Markdown("@" + escaping.plain(_people(ctx).get(uid) or uid))


@pass_context
def join(ctx: Context, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> Markdown:
    """Jinja2's `join`, with every item escaped unless it already is Markdown (and the separator escaped too)."""
    if attribute is not None:
        value = map(make_attrgetter(ctx.environment, attribute), value)
    sep = escaping.plain(str(d))
    return Markdown(sep.join(md(ctx, item) for item in value))


def _legacy_when(value: str, tz: ZoneInfo, style: str) -> str:
    if (style == "utc" or (style == "local" and tz.key == "UTC")) and _CANONICAL_TIME.match(value):
        return f"{value[:10]} {value[11:19]}"  # the canonical text already is the UTC clock (long timelines)
    at = datetime.fromisoformat(value).astimezone(UTC)
    local = at.astimezone(tz)
    if style == "local":
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if style == "utc":
        return at.strftime("%Y-%m-%d %H:%M:%S")
    if tz.key == "UTC":
        return at.strftime("%Y-%m-%d %H:%M UTC")
    utc_part = at.strftime("%H:%M UTC" if at.date() == local.date() else "%Y-%m-%d %H:%M UTC")
    return f"{local.strftime('%Y-%m-%d %H:%M %Z')} ({utc_part})"


def readable_time(at: datetime, tz: ZoneInfo, style: str = "full") -> str:
    """A time as people read it in the team's timezone (English names, whatever the machine's locale):
    `full` Thu 12 Mar 2026, 14:30 CET · `day` Thursday 12 March 2026 · `short` 12 Mar 14:30 · `time` 14:30 ·
    `seconds` 14:30:05."""
    local = at.astimezone(tz)
    day, month = _DAYS[local.weekday()], _MONTHS[local.month - 1]
    if style == "day":
        return f"{day} {local.day} {month} {local.year}"
    if style == "short":
        return f"{local.day} {month[:3]} {local:%H:%M}"
    if style == "time":
        return f"{local:%H:%M}"
    if style == "seconds":
        return f"{local:%H:%M:%S}"
    return f"{day[:3]} {local.day} {month[:3]} {local.year}, {local:%H:%M} {local.tzname()}"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@pass_context
def when(ctx: Context, value: str | None, style: str = "full") -> str:
    """A document time in the team's timezone. Legacy documents: `full` (local with UTC beside it), `local`, `utc`.
    Later ones: `full`, `day`, `short`, `time`, `seconds` (bot.postmortem.filters.readable_time), `local`, `utc`."""
    if not value:
        return "—"
    tz = ZoneInfo(ctx.get("timezone") or "UTC")
    if legacy(ctx) or style in ("local", "utc"):
        return _legacy_when(value, tz, style)
    return readable_time(datetime.fromisoformat(value), tz, style)


@pass_context
def finalize(ctx: Context, value: Any) -> Markdown:
    """Every `{{ … }}` of every template ends here: escaped as `md` does, unless it already is Markdown."""
    return md(ctx, value)


FILTERS = {"md": md, "cell": cell, "block": block, "code": code, "who": who, "when": when, "duration": humanise,
           "join": join, "e": md, "escape": md, "forceescape": md}
