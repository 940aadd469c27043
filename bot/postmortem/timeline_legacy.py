"""The first timeline layout, kept for documents of format retro-incident/1 and /2 so that the timeline.svg of their
bundles re-draws byte for byte (bot.postmortem.timeline_picture draws later documents). Milestones above the axis,
up to 28 key events below it in lanes, each where it happened.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.document import happened, key_seqs
from bot.postmortem.entry_text import describe
from bot.postmortem.measures import MILESTONES, Milestone, milestone_times
from bot.postmortem.picture import Box, Dot, Line, Picture, Shape, Text
from bot.postmortem.sections import slack_to_markdown

WIDTH = 1200
MARGIN = 60
LANE = 18
MAX_EVENTS = 28
MAX_LANES = 10
CHAR_WIDTH = 0.62  # average glyph width per point of font size, a little generous so labels never collide
COLOURS: dict[Milestone, str] = {"impact_started_at": "#c0392b", "detected_at": "#d68910", "insight_at": "#7d3c98",
           "mitigated_at": "#2471a3", "resolved_at": "#1e8449", "closed_at": "#616a6b"}
EVENT_COLOURS = {"status": "#1b2631", "severity": "#1b2631", "hypothesis": "#7d3c98", "evidence": "#117a65",
                 "note": "#ba4a00", "key": "#ba4a00", "declared": "#c0392b", "role": "#566573"}
PRIORITY = ("declared", "status_changed", "severity_changed", "hypothesis_verdict", "note", "message", "evidence_added",
            "hypothesis_proposed", "triage_submitted", "action_added", "role_assigned")
STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)


def _width(text: str, size: int) -> int:
    return int(len(text) * size * CHAR_WIDTH) + 2


def _clip(text: str, limit: int) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _place(lanes: list[list[tuple[int, int]]], start: int, end: int) -> int | None:
    """The first lane where [start, end] touches nothing already placed (a new lane while there is room)."""
    for i, taken in enumerate(lanes):
        if all(end + 8 < a or start > b + 8 for a, b in taken):
            taken.append((start, end))
            return i
    if len(lanes) < MAX_LANES:
        lanes.append([(start, end)])
        return len(lanes) - 1
    return None


Item = tuple[int, int, int, str, str]  # label start, label width, event x, text, colour


def _arrange(items: list[Item]) -> tuple[list[tuple[Item, int]], int]:
    """Lanes for the labels, packed left to right; while they do not fit, the least telling event is left out."""
    keep = list(items)
    while keep:
        lanes: list[list[tuple[int, int]]] = []
        placed = []
        for item in sorted(keep, key=lambda i: (i[0], i[2])):
            lane = _place(lanes, item[0], item[0] + item[1])
            if lane is None:
                break
            placed.append((item, lane))
        else:
            return placed, len(lanes)
        keep.pop()
    return [], 0


def _rank(entry: Entry) -> tuple[int, int]:
    kind = entry["kind"]
    return (PRIORITY.index(kind) if kind in PRIORITY else len(PRIORITY), entry["seq"])


def _events(doc: Doc) -> list[Entry]:
    """Key events, the most telling kinds first (they are placed first, so they always find room)."""
    key = key_seqs(doc["entries"])
    chosen = [e for e in doc["entries"] if e["seq"] in key]
    return sorted(chosen, key=_rank)[:MAX_EVENTS]


def _ticks(t0: datetime, t1: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    span_min = (t1 - t0).total_seconds() / 60
    step = next((s for s in STEPS_MIN if span_min / s <= 10), STEPS_MIN[-1])
    local = t0.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (local - midnight).total_seconds() / 60
    first = midnight + timedelta(minutes=(int(offset // step) + 1) * step)
    return first, step


def _colour(kind: str) -> str:
    return next((c for prefix, c in EVENT_COLOURS.items() if kind.startswith(prefix)), "#566573")


def layout(doc: Doc) -> Picture:
    """Place the milestones above the axis and the key events below it, in lanes that never overlap."""
    tz = ZoneInfo(doc["timezone"])
    inc = doc["incident"]
    times = {k: v for k, v in milestone_times(doc).items() if v is not None}
    events = _events(doc)
    created = datetime.fromisoformat(inc["created_at"])
    moments = [*times.values(), *(datetime.fromisoformat(happened(e)) for e in events)] or [created]
    t0, t1 = min(moments), max(moments)
    if t1 - t0 < timedelta(minutes=10):
        t0, t1 = t0 - timedelta(minutes=5), t1 + timedelta(minutes=5)
    pad = (t1 - t0) * 0.04
    t0, t1 = t0 - pad, t1 + pad
    span = (t1 - t0).total_seconds()

    def x(at: datetime) -> int:
        return MARGIN + round((at - t0).total_seconds() / span * (WIDTH - 2 * MARGIN))

    pic = Picture(WIDTH, 0)
    people = doc["people"]
    pic.shapes.append(Text(MARGIN, 30, _clip(html.unescape(slack_to_markdown(inc["title"], people)), 90), 17,
                           bold=True))
    offset = t0.astimezone(tz).strftime("%z")
    zone = doc["timezone"] if tz.key == "UTC" else f"{doc['timezone']} (UTC{offset[:3]}:{offset[3:]})"
    pic.shapes.append(Text(MARGIN, 50, f"#{inc['channel_name']} · {doc['labels']['severity']} · {inc['status']} · "
                           f"times in {zone}", 11, "#566573"))
    top: list[list[tuple[int, int]]] = []
    labels: list[tuple[str, int, int, str, bool]] = []
    for key_name, at in sorted(times.items(), key=lambda kv: (kv[1], list(MILESTONES).index(kv[0]))):
        text = f"{MILESTONES[key_name].capitalize()} {at.astimezone(tz):%H:%M}"
        xpos, w = x(at), _width(text, 11)
        flip = xpos + 3 + w > WIDTH - 4
        lane = _place(top, xpos - w - 3 if flip else xpos - 2, xpos if flip else xpos + 3 + w)
        labels.append((text, xpos, lane if lane is not None else 0, COLOURS[key_name], flip))
    axis = 70 + LANE * max(1, len(top)) + 18
    impact_start, impact_end = times.get("impact_started_at"), times.get("mitigated_at")
    if impact_start is not None:
        end = x(impact_end) if impact_end is not None else WIDTH - MARGIN
        pic.shapes.append(Box(x(impact_start), axis - 9, max(2, end - x(impact_start)), 18, "#f5d5d0"))
    pic.shapes.append(Line(MARGIN, axis, WIDTH - MARGIN, axis, "#1b2631", 2))
    tick, step = _ticks(t0, t1, tz)
    last_day = None
    while tick < t1:
        xpos = x(tick)
        day = tick.strftime("%b %d")
        pic.shapes.append(Line(xpos, axis, xpos, axis + 5, "#1b2631"))
        pic.shapes.append(Text(xpos, axis + 18, f"{day} {tick:%H:%M}" if day != last_day else f"{tick:%H:%M}",
                               10, "#566573", "middle"))
        last_day = day
        tick = (tick + timedelta(minutes=step)).astimezone(tz)
    for text, xpos, lane, colour, flip in labels:
        y = 70 + LANE * lane
        pic.shapes.append(Line(xpos, y + 4, xpos, axis + 6, colour, 1, dashed=True))
        pic.shapes.append(Text(xpos - 3 if flip else xpos + 3, y, text, 11, colour, "end" if flip else "start",
                               bold=True))
    base = axis + 44
    texts: list[Shape] = []
    items = []
    for e in events:
        at = datetime.fromisoformat(happened(e))  # placed when it happened, not when someone typed it
        text = _clip(f"{at.astimezone(tz):%H:%M} {html.unescape(slack_to_markdown(describe(e, doc), people))}", 46)
        w = _width(text, 10)
        items.append((min(x(at), WIDTH - 10 - w), w, x(at), text, _colour(e["kind"])))
    placed, lanes = _arrange(items)
    for (start, w, xpos, text, colour), lane in placed:
        y = base + LANE * lane
        pic.shapes.append(Line(xpos, axis, xpos, y - 11, "#d5dbdb"))
        pic.shapes.append(Dot(xpos, axis, 4, colour))
        texts += [Box(start - 2, y - 11, w + 2, 15, "#ffffff"), Text(start, y, text, 10, colour)]
    pic.shapes += texts
    bottom = base + LANE * max(1, lanes) + 10
    legend_x = MARGIN
    for key_name, colour in COLOURS.items():
        if key_name not in times:
            continue
        label = MILESTONES[key_name]
        pic.shapes.append(Box(legend_x, bottom, 10, 10, colour))
        pic.shapes.append(Text(legend_x + 14, bottom + 9, label, 10, "#566573"))
        legend_x += 24 + _width(label, 10)
    if impact_start is not None:
        pic.shapes.append(Box(legend_x, bottom, 10, 10, "#f5d5d0"))
        pic.shapes.append(Text(legend_x + 14, bottom + 9, "customer impact", 10, "#566573"))
    pic.height = bottom + 24
    return pic
