"""The timeline picture: a deterministic SVG and the same layout as PNG; events where they happened, listed in time
order, labels apart and whole, a legend for every mark."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

from bot.postmortem.doc_types import Doc
from bot.postmortem.picture import Picture, Text, measure
from bot.postmortem.story import key_timeline
from bot.postmortem.timeline_picture import MAX_EVENTS, WIDTH, layout, timeline_png, timeline_svg
from tests.postmortem_world import T0, document_of, fraud_incident, world

SVG = "{http://www.w3.org/2000/svg}"


async def _doc(database_url: str, **kwargs: object) -> Doc:
    async with world(database_url) as w:
        return await document_of(w, await fraud_incident(w, **kwargs))  # type: ignore[arg-type]


def _badges(pic: Picture) -> list[Text]:
    return [s for s in pic.shapes if isinstance(s, Text) and s.size == 9 and s.text.isdigit()]


async def test_the_svg_shows_milestones_and_key_events_on_a_time_axis(database_url: str) -> None:
    doc = await _doc(database_url)
    svg = timeline_svg(doc)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("width") == str(WIDTH)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    for label in ("Impact start 12:15", "Detection 13:00", "First confirmed hypothesis 13:45", "Mitigation 14:10",
                  "Resolution 14:35"):
        assert label in texts
    assert ("Cause found: H2 confirmed — The merchant_risk feature pipeline is stale: Airflow DAG paused since Mar 10 "
            "(evidence E1, E2)") in texts
    assert "Fraud model precision dropped" in texts
    events = [m for m in key_timeline(doc) if m.kind != "milestone"]
    assert [t.text for t in _badges(layout(doc))] == [str(n) for n in range(1, len(events) + 1)]
    assert all(t.get("textLength") for t in root.iter(f"{SVG}text"))  # drawn to their measured width anywhere
    assert timeline_svg(doc) == svg  # a pure function of the document


def _boxes(pic: Picture) -> list[tuple[int, int, int, int]]:
    out = []
    for t in pic.shapes:
        if isinstance(t, Text):
            w = t.fit or measure(t.text, t.size)
            left = t.x - w if t.anchor == "end" else t.x - w // 2 if t.anchor == "middle" else t.x
            out.append((left, t.y - t.size, w, t.size + 3))
    return out


async def test_labels_never_leave_the_canvas_or_overlap(database_url: str) -> None:
    doc = await _doc(database_url, messages=30)
    for i, e in enumerate(doc["entries"]):  # thirty key messages within a few minutes
        e["key_event"] = e["key_event"] or e["kind"] == "message"
        if e["kind"] == "message":
            e["at"] = (T0 + timedelta(minutes=50, seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pic = layout(doc)
    boxes = _boxes(pic)
    assert all(x >= 0 and x + w <= WIDTH and y >= 0 and y + h <= pic.height for x, y, w, h in boxes)
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "two labels overlap"
    badges = _badges(pic)
    assert [int(t.text) for t in sorted(badges, key=lambda t: (t.x, t.y))][:5] == [1, 2, 3, 4, 5]


async def test_many_key_events_are_capped_and_said_so(database_url: str) -> None:
    doc = await _doc(database_url, messages=60)
    for i, e in enumerate(doc["entries"]):
        e["key_event"] = True
        e["at"] = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pic = layout(doc)
    assert len(_badges(pic)) == MAX_EVENTS
    assert any(isinstance(s, Text) and s.text.startswith("… and ") and "more key events" in s.text
               for s in pic.shapes)


async def test_every_mark_has_its_legend(database_url: str) -> None:
    pic = layout(await _doc(database_url))
    legend = {s.text for s in pic.shapes if isinstance(s, Text) and s.size == 10 and s.colour == "#566573"}
    assert {"impact start", "detection", "first confirmed hypothesis", "mitigation", "resolution", "customer impact",
            "declared", "status or severity change", "hypothesis verdict"} <= legend
    assert "note or trigger" not in legend  # no such mark was drawn
    assert any(t.startswith("key event, numbered") for t in legend)


async def test_earlier_documents_keep_the_first_layout(database_url: str) -> None:
    doc = {**await _doc(database_url), "format": "retro-incident/2"}
    texts = [s.text for s in layout(doc).shapes if isinstance(s, Text)]
    assert any(t.startswith("13:45 H2 confirmed") for t in texts) and not _badges(layout(doc))


async def test_user_text_is_escaped_in_the_svg(database_url: str) -> None:
    svg = timeline_svg(await _doc(database_url, title='<script>alert("x")</script> & co'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)


async def test_the_png_is_the_same_picture(database_url: str) -> None:
    from PIL import Image

    doc = await _doc(database_url)
    image = Image.open(io.BytesIO(timeline_png(doc)))
    pic = layout(doc)
    assert image.format == "PNG" and image.size == (pic.width * 2, pic.height * 2)
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 10  # something was drawn
    assert timeline_png(doc) == timeline_png(doc)
