"""Small charts drawn on the server as inline SVG: a bar chart and a line chart with axes, labels and a tooltip
(`<title>`) on every bar or point; no script and no style attribute, so the pages' CSP holds.

Every piece of text that goes into the picture is escaped here; the result is the only markup the web templates
mark safe. Each chart names itself with role="img" and an aria-label summing up its numbers, and each page puts the
same numbers in a table under it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
COLOURS = ("#0b5cad", "#a4141c", "#176b2c", "#7a4d00", "#6a3d9a", "#1b1f24")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2")
MAX_LABEL = 14

Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a name and a value per x label (None where nothing was measured)."""

    name: str
    values: Sequence[float | None]


def _plain(value: float) -> str:
    return f"{value:g}"


def nice_top(value: float) -> tuple[float, float]:
    """The top of the y axis and its step: a round number at or above `value`, in at most five round steps."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def _frame(title: str, summary: str, body: list[str], top: float, step: float, fmt: Format, unit: str,
           x_labels: list[str], xs: list[float], legend: list[str]) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(summary)}">',
             f"<title>{escape(title)}</title>"]
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = step * i
        y = TOP + plot_h - plot_h * value / top
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                     'stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#4a5561">{escape(fmt(value) + unit)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#1b1f24"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
                 'stroke="#1b1f24"/>')
    every = max(1, math.ceil(len(x_labels) / 12))  # at most a dozen labels under the axis
    for i, (label, x) in enumerate(zip(x_labels, xs, strict=True)):
        if i % every == 0:
            parts.append(f'<text class="xlabel" x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#1b1f24">{escape(_short(label))}</text>')
    parts += body + legend
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, fmt: Format = _plain,
              unit: str = "") -> Markup:
    """Vertical bars, one per label, each with a tooltip; the summary lists every bar."""
    top, step = nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    xs = [LEFT + slot * (i + 0.5) for i in range(len(labels))]
    body = []
    for label, value, x in zip(labels, values, xs, strict=True):
        h = plot_h * value / top
        said = f"{label}: {fmt(value)}{unit}"
        body.append(f'<rect class="bar" x="{x - slot * 0.35:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{COLOURS[0]}"><title>{escape(said)}</title></rect>')
    listed = "; ".join(f"{label} {fmt(v)}{unit}" for label, v in zip(labels, values, strict=True))
    summary = f"{title}. " + (listed if labels else "No data.")
    return _frame(title, summary, body, top, step, fmt, unit, list(labels), xs, [])


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, fmt: Format = _plain,
               unit: str = "") -> Markup:
    """One line per series over the x labels (gaps where a value is missing), a marker with a tooltip per point,
    and a legend; lines differ by dash as well as colour."""
    known = [v for s in series for v in s.values if v is not None]
    top, step = nice_top(max(known, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(x_labels))
    xs = [LEFT + slot * (i + 0.5) for i in range(len(x_labels))]
    body, legend, said = [], [], []
    for n, s in enumerate(series):
        colour, dash = COLOURS[n % len(COLOURS)], DASHES[n % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        run: list[str] = []
        points = []
        for label, value, x in zip(x_labels, s.values, xs, strict=True):
            if value is None:
                if len(run) > 1:
                    points.append(run)
                run = []
                continue
            y = TOP + plot_h - plot_h * value / top
            run.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                        f"<title>{escape(f'{s.name}, {label}: {fmt(value)}{unit}')}</title></circle>")
        if len(run) > 1:
            points.append(run)
        for line in points:
            body.insert(0, f'<polyline class="line" points="{" ".join(line)}" fill="none" stroke="{colour}" '
                           f'stroke-width="2"{dashed}/>')
        ly = HEIGHT - 18
        lx = LEFT + n * 170
        legend.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{colour}" stroke-width="2"'
                      f'{dashed}/><text x="{lx + 30}" y="{ly + 4}" font-size="12" fill="#1b1f24">'
                      f"{escape(_short(s.name) if len(series) > 4 else s.name)}</text>")
        measured = [(label, v) for label, v in zip(x_labels, s.values, strict=True) if v is not None]
        said.append(f"{s.name}: " + (", ".join(f"{label} {fmt(v)}{unit}" for label, v in measured)
                                     if measured else "no data"))
    summary = f"{title}. " + ("; ".join(said) if x_labels else "No data.")
    return _frame(title, summary, body, top, step, fmt, unit, list(x_labels), xs, legend)
