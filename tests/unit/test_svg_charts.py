"""The web view's server-drawn charts: every text escaped, a summary for screen readers, a tooltip per point."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.app.web.svg_charts import Series, bar_chart, line_chart, nice_top

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_labels_and_titles_are_escaped_and_summarised() -> None:
    drawn = bar_chart('Incidents <by> "category"', ["<script>x</script>", "a & b"], [3.0, 1.0], unit=" inc")
    root = ET.fromstring(str(drawn))  # well-formed XML: nothing unescaped broke it
    assert root.get("role") == "img"
    assert root.get("aria-label") == 'Incidents <by> "category". <script>x</script> 3 inc; a & b 1 inc'
    assert "<script>" not in str(drawn)
    tips = [t.text for t in root.iter(f"{SVG}title")]
    assert tips == ['Incidents <by> "category"', "<script>x</script>: 3 inc", "a & b: 1 inc"]
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")]
    assert heights[1] > 0 and abs(heights[0] - 3 * heights[1]) < 0.5


def test_lines_leave_gaps_where_nothing_was_measured() -> None:
    drawn = line_chart("Medians", ["2026-01", "2026-02", "2026-03", "2026-04"],
                       [Series("Time to mitigate", [2.0, None, 4.0, 5.0]), Series("Never", [None] * 4)], unit=" h")
    root = ET.fromstring(str(drawn))
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points", "").split()) == 2  # 2026-03 to 2026-04 only
    tips = [t.text for t in root.findall(f".//{SVG}circle/{SVG}title")]
    assert tips == ["Time to mitigate, 2026-01: 2 h", "Time to mitigate, 2026-03: 4 h",
                    "Time to mitigate, 2026-04: 5 h"]
    assert "Never: no data" in (root.get("aria-label") or "")


def test_the_axis_tops_at_a_round_number() -> None:
    assert nice_top(0) == (1.0, 0.25)
    assert nice_top(7.3) == (8.0, 2.0)
    assert nice_top(36) == (40.0, 10.0)
    assert nice_top(101) == (125.0, 25.0)
