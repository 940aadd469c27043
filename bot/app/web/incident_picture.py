"""The timeline picture for the web page: the export's SVG, with a focusable area over each numbered key event whose
`<title>` is the browser's tooltip and whose data-* attributes feed the detail panel (static/picture.js)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from bot.postmortem.doc_types import Doc
from bot.postmortem.document import parse_time
from bot.postmortem.picture import Box, Picture, Text, svg
from bot.postmortem.story import Moment, key_timeline
from bot.postmortem.timeline_picture import KIND_OF, MAX_EVENTS, PRIORITY, layout, readable

BADGE_TEXT = "#ffffff"


@dataclass(frozen=True)
class Drawn:
    """A key event as the picture numbers it."""

    number: int
    moment: Moment


def drawn_events(doc: Doc) -> list[Drawn]:
    """The key events the picture draws, numbered as its badges are: every kind it draws, and past its limit the
    most telling kinds first, in time order."""
    moments = [m for m in key_timeline(doc) if m.kind in KIND_OF]
    if len(moments) > MAX_EVENTS:
        ranked = sorted(range(len(moments)), key=lambda i: (PRIORITY.index(KIND_OF[moments[i].kind]), i))
        moments = [moments[i] for i in sorted(ranked[:MAX_EVENTS])]
    return [Drawn(n, m) for n, m in enumerate(moments, start=1)]


def badges(pic: Picture) -> dict[int, Box]:
    """Where each numbered badge is: a box followed by its number in white."""
    found: dict[int, Box] = {}
    for shape, after in zip(pic.shapes, pic.shapes[1:], strict=False):
        if isinstance(shape, Box) and isinstance(after, Text) and after.colour == BADGE_TEXT and after.text.isdigit():
            found.setdefault(int(after.text), shape)
    return found


def local(at: datetime | None, tz: ZoneInfo) -> str:
    """A time as people of the team read it."""
    return "" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _area(box: Box, event: Drawn, tz: ZoneInfo, people: dict[str, str]) -> str:
    m = event.moment
    when = local(parse_time(m.at), tz)
    who = (people.get(m.actor) or m.actor) if m.actor else ""
    what = (f"{m.milestone}: " if m.milestone else "") + readable(m.text, people)
    tip = " · ".join(p for p in (f"{event.number}", when, who, what) if p)
    return (f'<g class="event" tabindex="0" role="button" data-number="{event.number}" data-when="{escape(when)}" '
            f'data-who="{escape(who)}" data-what="{escape(what)}" aria-label="{escape(tip)}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{box.x - 3}" y="{box.y - 3}" width="{box.w + 6}" height="{box.h + 6}" fill="transparent"/>'
            "</g>")


def picture(doc: Doc, people: dict[str, str]) -> Markup:
    """The picture as inline SVG: the export's drawing (its own text escaped by it), then the hover areas."""
    tz = ZoneInfo(doc["timezone"])
    pic = layout(doc)
    at = badges(pic)
    areas = [_area(at[e.number], e, tz, people) for e in drawn_events(doc) if e.number in at]
    drawing = svg(pic).rstrip()
    assert drawing.startswith("<svg ") and drawing.endswith("</svg>")
    head = '<svg class="picture" role="group" aria-label="Timeline picture: key events by time" '
    return Markup(head + drawing[len("<svg "):-len("</svg>")] + "".join(areas) + "</svg>")
