"""The timeline picture: a deterministic SVG and the same layout as PNG."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

from bot.postmortem.doc_types import Doc
from bot.postmortem.document import key_seqs
from bot.postmortem.picture import Dot, Text
from bot.postmortem.timeline_picture import MAX_EVENTS, WIDTH, layout, timeline_png, timeline_svg
from tests.postmortem_world import T0, document_of, fraud_incident, world

SVG = "{http://www.w3.org/2000/svg}"


async def _doc(database_url: str, **kwargs: object) -> Doc:
    async with world(database_url) as w:
        return await document_of(w, await fraud_incident(w, **kwargs))  # type: ignore[arg-type]


async def test_the_svg_shows_milestones_and_key_events_on_a_time_axis(database_url: str) -> None:
    doc = await _doc(database_url)
    svg = timeline_svg(doc)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("width") == str(WIDTH)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    for label in ("Impact start 12:15", "Detection 13:00", "First confirmed hypothesis 13:45", "Mitigation 14:10",
                  "Resolution 14:35"):
        assert label in texts
    assert any(t.startswith("13:45 H2 confirmed") for t in texts)
    assert "Fraud model precision dropped" in texts
    assert len(list(root.iter(f"{SVG}circle"))) == len(key_seqs(doc["entries"]))
    assert timeline_svg(doc) == svg  # a pure function of the document


async def test_labels_never_leave_the_canvas_or_overlap(database_url: str) -> None:
    pic = layout(await _doc(database_url))
    texts = [s for s in pic.shapes if isinstance(s, Text) and s.size == 10 and s.y > 150]
    assert all(t.x >= 0 and t.x + len(t.text) * 6.2 <= WIDTH for t in texts)
    rows: dict[int, list[tuple[int, int]]] = {}
    for t in texts:
        rows.setdefault(t.y, []).append((t.x, t.x + int(len(t.text) * 6.2)))
    for spans in rows.values():
        spans.sort()
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))


async def test_many_key_events_are_capped(database_url: str) -> None:
    doc = await _doc(database_url, messages=40)
    for i, e in enumerate(doc["entries"]):
        e["key_event"] = True
        e["at"] = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pic = layout(doc)
    assert 0 < len([s for s in pic.shapes if isinstance(s, Dot)]) <= MAX_EVENTS


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
