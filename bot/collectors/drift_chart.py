"""The chart of one flagged feature of a data check: baseline and current side by side, as shares of each
snapshot's values (bot/collectors/histograms.py binned them), drawn as a PNG from the report alone.

Numeric features are vertical bars over equal-width bins (the first and last bins are open: they also hold the
values beyond the central 99%); categorical ones are horizontal bars, one pair per value. The same report gives the
same PNG bytes (bot/postmortem/picture.py).
"""

from __future__ import annotations

import re
from typing import Any

from bot.collectors.base import Artifact
from bot.collectors.histograms import OTHER, shares
from bot.postmortem.picture import Box, Line, Picture, Shape, Text, measure, png

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 58, 52
BASE, CUR, INK, GRID, MUTED = "#1f77b4", "#ff7f0e", "#1b2631", "#e5e8eb", "#5d6d7e"
MAX_CHARTS = 12  # charts kept per check (the most drifted flagged features); every histogram is in the JSON
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def _fit(text: str, size: int, room: int) -> str:
    if measure(text, size) <= room:
        return text
    while text and measure(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.1 or share == 0 else f"{share * 100:.1f}%"


def _head(f: dict[str, Any]) -> list[Shape]:
    stats = [f"{k.upper()} {f[k]}" for k in ("psi", "ks") if f.get(k) is not None]
    nulls = f"nulls {f['null_rate_baseline']} → {f['null_rate_current']}"
    out: list[Shape] = [Text(LEFT, 22, _fit(f"{f['column']} ({f['type']})", 14, WIDTH - LEFT - RIGHT), 14, INK,
                             bold=True),
                        Text(LEFT, 40, _fit(" · ".join([*stats, nulls, "flagged: " + ", ".join(f["flags"])]), 11,
                                            WIDTH - LEFT - RIGHT - 170), 11, MUTED)]
    x = WIDTH - RIGHT - 160
    for label, colour in (("baseline", BASE), ("current", CUR)):
        out += [Box(x, 31, 10, 10, colour), Text(x + 14, 40, label, 11, INK)]
        x += 80
    return out


def _numeric(h: dict[str, Any]) -> list[Shape]:
    pb, pc_ = shares(h["baseline"]), shares(h["current"])
    top = max([*pb, *pc_, 0.01])
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    out: list[Shape] = []
    for k in range(5):
        y = y1 - (y1 - y0) * k // 4
        out += [Line(x0, y, x1, y, GRID), Text(x0 - 6, y + 4, _pct(top * k / 4), 10, MUTED, "end")]
    n = len(pb)
    step = (x1 - x0) / n
    for i in range(n):
        for j, (share, colour) in enumerate(((pb[i], BASE), (pc_[i], CUR))):
            h_px = round((y1 - y0) * share / top)
            x = round(x0 + i * step + 1 + j * (step - 2) / 2)
            out.append(Box(x, y1 - h_px, max(1, round((step - 2) / 2) - 1), h_px, colour))
    edges: list[str] = h["edges"]
    if edges:
        for i in (0, len(edges) // 2, len(edges) - 1):
            x = round(x0 + (i + 1) * step)
            out += [Line(x, y1, x, y1 + 4, INK), Text(x, y1 + 17, str(edges[i]), 10, INK, "middle")]
        out.append(Text(x0, y1 + 34, "first and last bins also hold the values beyond them", 10, MUTED))
    else:
        out.append(Text(x0, y1 + 17, "every value is the same", 10, MUTED))
    return [*out, Line(x0, y1, x1, y1, INK)]


def _categorical(h: dict[str, Any]) -> list[Shape]:
    pb, pc_ = shares(h["baseline"]), shares(h["current"])
    top = max([*pb, *pc_, 0.01])
    label_w = 150
    x0, x1, y0, y1 = LEFT + label_w - 40, WIDTH - RIGHT - 40, TOP, HEIGHT - 20
    row = (y1 - y0) / max(1, len(pb))
    out: list[Shape] = [Line(x0, y0, x0, y1, INK)]
    for i, value in enumerate(h["values"]):
        y = round(y0 + i * row)
        new = h["baseline"][i] == 0 and value != OTHER
        out.append(Text(x0 - 6, round(y + row / 2 + 4), _fit(value, 11, label_w - (46 if new else 10)) +
                        (" (new)" if new else ""), 11, INK, "end"))
        for j, (share, colour) in enumerate(((pb[i], BASE), (pc_[i], CUR))):
            w = round((x1 - x0) * share / top)
            bar_y = round(y + 2 + j * (row - 4) / 2)
            out += [Box(x0 + 1, bar_y, w, max(1, round((row - 4) / 2) - 1), colour),
                    Text(x0 + w + 4, bar_y + max(8, round((row - 4) / 2) - 2), _pct(share), 9, MUTED)]
    return out


def chart(feature: dict[str, Any]) -> bytes:
    """The PNG of one flagged feature with a histogram in the report."""
    h = feature["histogram"]
    body = _numeric(h) if h["kind"] == "numeric" else _categorical(h)
    return png(Picture(WIDTH, HEIGHT, [*_head(feature), *body]))


def charts(report: dict[str, Any]) -> list[Artifact]:
    """The charts of the flagged features (at most MAX_CHARTS, in the report's order: most drifted first)."""
    drawn = [f for f in report["features"] if f.get("histogram")][:MAX_CHARTS]
    return [Artifact(f"datacheck-chart-{n:02d}-{_SLUG.sub('_', f['column'])[:60]}.png", "image/png", chart(f))
            for n, f in enumerate(drawn, 1)]
