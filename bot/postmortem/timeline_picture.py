"""The incident on a time axis, drawn as SVG (text) and PNG (Pillow) from one layout, a pure function of the incident
document (documents of format retro-incident/1 and /2 keep the first layout, bot.postmortem.timeline_legacy).

Milestones (impact start, detection, cause found, mitigation, resolution, closure) stand above the axis, the impact
as a band on it. Each key event (bot.postmortem.story) is a dot where it happened and a numbered badge below the
axis; badges keep their time order and never overlap (one whose place is taken moves right, in the lowest free
lane, its leader line slanting back to its dot). The events are then listed in time order, one row each, wrapped at
spaces (a word longer than a line breaks after `/`, `-`, `.` … first) and never cut inside a word: a row longer
than three lines ends with `…` after a whole word. A legend names every kind of mark drawn.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.postmortem import timeline_legacy
from bot.postmortem.doc_types import Doc
from bot.postmortem.document import LEGACY_FORMATS, parse_time
from bot.postmortem.escaping import Link, slack_segments
from bot.postmortem.measures import MILESTONES, Milestone, milestone_times
from bot.postmortem.picture import Box, Dot, Line, Picture, Shape, Text, measure, png, svg
from bot.postmortem.story import Moment, key_timeline, severity_path

WIDTH = 1200
MARGIN = 60
LANE = 18
MAX_EVENTS = 40
MAX_LINES = 3
BADGE_LANES = 8
LINE_HEIGHT = 15
COLOURS: dict[Milestone, str] = {"impact_started_at": "#c0392b", "detected_at": "#d68910", "insight_at": "#7d3c98",
                                 "mitigated_at": "#2471a3", "resolved_at": "#1e8449", "closed_at": "#616a6b"}
IMPACT = "#f5d5d0"
# Kinds of key event, their colour and what the legend calls them, in the legend's order.
KINDS = (("declared", "#c0392b", "declared"), ("change", "#1b2631", "status or severity change"),
         ("verdict", "#7d3c98", "hypothesis verdict"), ("note", "#ba4a00", "note or trigger"),
         ("message", "#117a65", "message marked as key"))
KIND_OF = {"declared": "declared", "status_changed": "change", "severity_changed": "change",
           "hypothesis_verdict": "verdict", "note": "note", "trigger": "note", "message": "message",
           "bot_message": "message"}
PRIORITY = ("declared", "change", "verdict", "note", "message")
STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
_SOFT_BREAK = re.compile(r"(?<=[/\-_.?&=:,;])")
_EMPHASIS = re.compile(r"(?<![\w*_~])([*_~])(?=[^\s*_~])([^\n]*?[^\s\\])\1(?!\w)")


def readable(text: str, people: dict[str, str]) -> str:
    """Slack text as plain words: names for mentions, labels for links, emphasis markers dropped, one line."""
    parts = [seg.label if isinstance(seg, Link) else seg for seg in slack_segments(text, people)]
    plain = _EMPHASIS.sub(r"\2", "".join(parts)).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(plain.split())


def _pieces(word: str, size: int, room: int) -> list[str]:
    """A word as pieces that fit `room`: after punctuation where it has some, else (a run without any) by letters."""
    if measure(word, size) <= room:
        return [word]
    out: list[str] = []
    for part in (p for p in _SOFT_BREAK.split(word) if p):
        while measure(part, size) > room:
            cut = max(1, max(n for n in range(1, len(part) + 1) if measure(part[:n], size) <= room or n == 1))
            out.append(part[:cut])
            part = part[cut:]
        if out and measure(out[-1] + part, size) <= room:
            out[-1] += part
        elif part:
            out.append(part)
    return out


def wrap(text: str, size: int, room: int, max_lines: int = MAX_LINES) -> list[str]:
    """Lines of at most `room` units, broken at spaces; past `max_lines` the last line ends with `…` after a word."""
    tokens = [(piece, n == 0) for word in text.split() for n, piece in enumerate(_pieces(word, size, room))]
    lines: list[str] = []
    current = ""
    for piece, spaced in tokens:
        joined = f"{current}{' ' if spaced else ''}{piece}" if current else piece
        if current and measure(joined, size) > room:
            lines.append(current)
            current = piece
        else:
            current = joined
    if current:
        lines.append(current)
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    words = kept[-1].split(" ")
    while len(words) > 1 and measure(" ".join(words) + " …", size) > room:
        words.pop()
    kept[-1] = " ".join(words) + " …"
    return kept


def _events(doc: Doc) -> tuple[list[Moment], int]:
    """The key events to draw (the milestones are drawn above the axis), at most MAX_EVENTS, the most telling kinds
    kept first; and how many were left out."""
    moments = [m for m in key_timeline(doc) if m.kind in KIND_OF]
    if len(moments) <= MAX_EVENTS:
        return moments, 0
    ranked = sorted(range(len(moments)), key=lambda i: (PRIORITY.index(KIND_OF[moments[i].kind]), i))
    keep = sorted(ranked[:MAX_EVENTS])
    return [moments[i] for i in keep], len(moments) - MAX_EVENTS


def _ticks(t0: datetime, t1: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    span_min = (t1 - t0).total_seconds() / 60
    step = next((s for s in STEPS_MIN if span_min / s <= 10), STEPS_MIN[-1])
    local = t0.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + timedelta(minutes=(int((local - midnight).total_seconds() / 60 // step) + 1) * step)
    return first, step


def _text(x: int, y: int, text: str, size: int, colour: str, anchor: str = "start", bold: bool = False) -> Text:
    return Text(x, y, text, size, colour, anchor, bold, measure(text, size, bold=bold))


class _Canvas:
    """The picture being laid out, and where its time axis maps times."""

    def __init__(self, t0: datetime, t1: datetime) -> None:
        self.pic = Picture(WIDTH, 0)
        self.t0, self.span = t0, max(1.0, (t1 - t0).total_seconds())

    def x(self, at: datetime) -> int:
        return MARGIN + round((at - self.t0).total_seconds() / self.span * (WIDTH - 2 * MARGIN))

    def add(self, *shapes: Shape) -> None:
        self.pic.shapes.extend(shapes)


def _header(c: _Canvas, doc: Doc, tz: ZoneInfo) -> int:
    inc, people = doc["incident"], doc["people"]
    title = wrap(readable(inc["title"], people), 17, WIDTH - 2 * MARGIN, 2)
    y = 30
    for line in title:
        c.add(_text(MARGIN, y, line, 17, "#1b2631", bold=True))
        y += 22
    offset = c.t0.astimezone(tz).strftime("%z")
    zone = doc["timezone"] if tz.key == "UTC" else f"{doc['timezone']} (UTC{offset[:3]}:{offset[3:]})"
    path = severity_path(doc)
    peak = f" (peak SEV{path['peak']})" if path["peak"] != inc["severity"] else ""
    sub = f"#{inc['channel_name']} · {doc['labels']['severity']}{peak} · {inc['status']} · times in {zone}"
    for line in wrap(sub, 11, WIDTH - 2 * MARGIN, 2):
        c.add(_text(MARGIN, y - 2, line, 11, "#566573"))
        y += 16
    return y + 12


def _milestones(c: _Canvas, times: dict[Milestone, datetime], tz: ZoneInfo, top: int) -> int:
    """Milestone flags above the axis, in lanes in time order; returns the axis' y."""
    lanes: list[int] = []  # the right edge taken in each lane
    placed: list[tuple[str, int, int, str, bool]] = []
    for key, at in sorted(times.items(), key=lambda kv: (kv[1], list(MILESTONES).index(kv[0]))):
        text = f"{MILESTONES[key].capitalize()} {at.astimezone(tz):%H:%M}"
        xpos, w = c.x(at), measure(text, 11, bold=True)
        flip = xpos + 3 + w > WIDTH - 4
        start = xpos - w - 3 if flip else xpos - 2
        lane = next((i for i, right in enumerate(lanes) if start > right + 8), None)
        if lane is None:
            lanes.append(0)
            lane = len(lanes) - 1
        lanes[lane] = xpos + 3 + w if not flip else xpos
        placed.append((text, xpos, lane, COLOURS[key], flip))
    axis = top + LANE * max(1, len(lanes)) + 14
    for text, xpos, lane, colour, flip in placed:
        y = top + LANE * lane + 12
        c.add(Line(xpos, y + 4, xpos, axis + 6, colour, 1, dashed=True),
              _text(xpos - 3 if flip else xpos + 3, y, text, 11, colour, "end" if flip else "start", True))
    return axis


def _axis(c: _Canvas, times: dict[Milestone, datetime], axis: int, t1: datetime, tz: ZoneInfo) -> None:
    start, end = times.get("impact_started_at"), times.get("mitigated_at")
    if start is not None:
        right = c.x(end) if end is not None else WIDTH - MARGIN
        c.add(Box(c.x(start), axis - 9, max(2, right - c.x(start)), 18, IMPACT))
    c.add(Line(MARGIN, axis, WIDTH - MARGIN, axis, "#1b2631", 2))
    tick, step = _ticks(c.t0, t1, tz)
    last_day = None
    while tick < t1:
        day = tick.strftime("%b %d")
        c.add(Line(c.x(tick), axis, c.x(tick), axis + 5, "#1b2631"),
              _text(c.x(tick), axis + 18, f"{day} {tick:%H:%M}" if day != last_day else f"{tick:%H:%M}", 10,
                    "#566573", "middle"))
        last_day = day
        tick = (tick + timedelta(minutes=step)).astimezone(tz)


def _badges(c: _Canvas, events: list[Moment], axis: int) -> int:
    """A dot per event on the axis and its numbered badge below, lanes in time order; returns the bottom."""
    top = axis + 30
    lanes: list[int] = []
    badges: list[Shape] = []
    for n, m in enumerate(events, start=1):
        at = parse_time(m.at)
        assert at is not None
        xpos, colour = c.x(at), {k: col for k, col, _ in KINDS}[KIND_OF[m.kind]]
        w = measure(str(n), 9, bold=True) + 8
        left = xpos - w // 2
        lane = next((i for i, right in enumerate(lanes) if left > right + 2), None)
        if lane is None and len(lanes) < BADGE_LANES:
            lanes.append(-10**6)
            lane = len(lanes) - 1
        if lane is None:  # every lane is taken here: the lane free soonest, the badge moved right of what it holds
            lane = min(range(len(lanes)), key=lambda i: lanes[i])
            left = lanes[lane] + 3
        lanes[lane] = left + w
        y = top + lane * LANE
        c.add(Dot(xpos, axis, 4, colour), Line(xpos, axis + 4, left + w // 2, y - 1, "#aab7b8"))
        badges += [Box(left, y, w, 14, colour), _text(left + w // 2, y + 11, str(n), 9, "#ffffff", "middle", True)]
    c.add(*badges)
    return top + LANE * max(1, len(lanes))


def _rows(c: _Canvas, doc: Doc, events: list[Moment], tz: ZoneInfo, top: int, left_out: int) -> int:
    """The events listed in time order: badge number, time, words (wrapped at spaces); returns the bottom."""
    y = top + 12
    room = WIDTH - MARGIN - (MARGIN + 80)
    colour_of = {k: col for k, col, _ in KINDS}
    for n, m in enumerate(events, start=1):
        at = parse_time(m.at)
        assert at is not None
        label = f"{m.milestone}: " if m.milestone else ""
        lines = wrap(label + readable(m.text, doc["people"]), 10, room)
        c.add(_text(MARGIN + 16, y, str(n), 10, colour_of[KIND_OF[m.kind]], "end", True),
              _text(MARGIN + 24, y, f"{at.astimezone(tz):%H:%M}", 10, "#566573"))
        for line in lines:
            c.add(_text(MARGIN + 80, y, line, 10, "#1b2631"))
            y += LINE_HEIGHT
        y += 3
    if left_out:
        c.add(_text(MARGIN + 80, y, f"… and {left_out} more key events, listed in the postmortem's timeline", 10,
                    "#566573"))
        y += LINE_HEIGHT
    return y


def _legend(c: _Canvas, times: dict[Milestone, datetime], events: list[Moment], top: int) -> int:
    """A sample and a name for every kind of mark drawn: milestone flags, the impact band, event dots, badges."""
    marks: list[tuple[str, str, str]] = [("flag", COLOURS[k], MILESTONES[k]) for k in COLOURS if k in times]
    if "impact_started_at" in times:
        marks.append(("band", IMPACT, "customer impact"))
    used = {KIND_OF[m.kind] for m in events}
    marks += [("dot", colour, label) for kind, colour, label in KINDS if kind in used]
    if events:
        marks.append(("badge", "#566573", "key event, numbered in time order as listed above"))
    x, y = MARGIN, top + 6
    for shape, colour, label in marks:
        w = 24 + measure(label, 10)
        if x + w > WIDTH - MARGIN:
            x, y = MARGIN, y + LANE
        if shape == "flag":
            c.add(Line(x + 5, y - 1, x + 5, y + 11, colour, 1, dashed=True))
        elif shape == "dot":
            c.add(Dot(x + 5, y + 5, 4, colour))
        else:
            c.add(Box(x, y, 10, 10, colour))
        c.add(_text(x + 14, y + 9, label, 10, "#566573"))
        x += w
    return y + 24


def layout(doc: Doc) -> Picture:
    """Lay the picture out: header, milestones, axis, badges, the list of events, the legend."""
    if doc["format"] in LEGACY_FORMATS:
        return timeline_legacy.layout(doc)
    tz = ZoneInfo(doc["timezone"])
    times = {k: v for k, v in milestone_times(doc).items() if v is not None}
    events, left_out = _events(doc)
    moments = [*times.values(), *(t for m in events if (t := parse_time(m.at)) is not None)]
    created = parse_time(doc["incident"]["created_at"])
    assert created is not None
    t0, t1 = (min(moments), max(moments)) if moments else (created, created)
    if t1 - t0 < timedelta(minutes=10):
        t0, t1 = t0 - timedelta(minutes=5), t1 + timedelta(minutes=5)
    pad = (t1 - t0) * 0.04
    c = _Canvas(t0 - pad, t1 + pad)
    top = _header(c, doc, tz)
    axis = _milestones(c, times, tz, top)
    _axis(c, times, axis, t1 + pad, tz)
    bottom = _badges(c, events, axis)
    bottom = _rows(c, doc, events, tz, bottom, left_out)
    c.pic.height = _legend(c, times, events, bottom)
    return c.pic


def timeline_svg(doc: Doc) -> str:
    """The incident's timeline picture as SVG text."""
    return svg(layout(doc))


def timeline_png(doc: Doc) -> bytes:
    """The incident's timeline picture as PNG bytes (the same bytes on every run)."""
    return png(layout(doc))
