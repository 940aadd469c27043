"""The charts of a data check: what each flagged feature's histogram holds, and the PNG drawn from it alone."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
from PIL import Image

from bot.collectors import drift_chart, histograms
from bot.collectors.comparison import Thresholds
from bot.collectors.datacheck import Snapshot, check
from bot.collectors.histograms import BINS, OTHER, SHOWN
from tests.unit.test_datacheck import rows, to_csv

RNG = np.random.default_rng(20261207)


def test_numeric_bins_keep_every_value_and_show_a_shift() -> None:
    base, cur = RNG.normal(0, 1, 50_000), RNG.normal(0.8, 1, 40_000)
    h = histograms.numeric(base, cur)
    assert len(h["edges"]) == BINS - 1 and sorted(h["edges"]) == h["edges"]
    assert (sum(h["baseline"]), sum(h["current"])) == (50_000, 40_000)  # the end bins hold the tails
    middle = BINS // 2
    assert sum(histograms.shares(h["current"])[middle:]) > sum(histograms.shares(h["baseline"])[middle:]) + 0.2


def test_numeric_bins_of_constant_or_extreme_values() -> None:
    ones = np.ones(100)
    assert histograms.numeric(ones, ones[:10]) == {"kind": "numeric", "edges": [], "baseline": [100],
                                                   "current": [10]}
    huge = histograms.numeric(np.array([-1e308, 0.0, 1e308] * 50), np.array([1e308] * 40))
    assert histograms.finite(huge) and sum(huge["baseline"]) == 150 and sum(huge["current"]) == 40


def test_categories_shown_are_the_commonest_then_new_ones_and_the_rest_pooled() -> None:
    base = pa.array([f"v{i:02d}" for i in range(30) for _ in range(30 - i)])
    cur = pa.array([f"v{i:02d}" for i in range(30) for _ in range(30 - i)] + ["brand-new"] * 50 + ["rare-new"])
    h = histograms.categorical(base, cur)
    assert h["values"][:SHOWN - 2] == [f"v{i:02d}" for i in range(SHOWN - 2)]
    assert h["values"][SHOWN - 2:] == ["brand-new", "rare-new", OTHER]  # new values get places; the rest pooled
    assert sum(h["baseline"]) == len(base) and sum(h["current"]) == len(cur)
    assert h["baseline"][h["values"].index("brand-new")] == 0


def test_a_chart_is_the_same_png_for_the_same_report_and_fits_long_names() -> None:
    base = to_csv(rows(1500, seed=3))
    cur = to_csv(rows(1500, seed=4, country=lambda r: r.choice(["US", "XX", "YY"]),
                      amount=lambda r: round(r.lognormvariate(4.0, 0.6), 2)))
    snaps = (Snapshot("E1", "a.csv", base, {}), Snapshot("E2", "b.csv", cur, {}))
    first, again = (check(*snaps, key=[], thresholds=Thresholds()) for _ in range(2))
    pngs = [f for f in first.files if f.media_type == "image/png"]
    assert sorted(f.name[19:] for f in pngs) == ["amount.png", "country.png"]  # most drifted first
    assert [f.data for f in first.files] == [f.data for f in again.files]  # report and charts, byte for byte
    for f in pngs:
        assert Image.open(io.BytesIO(f.data)).size == (drift_chart.WIDTH * 2, drift_chart.HEIGHT * 2)
    feature = {"column": "a-feature-name-far-too-long-for-any-chart-" * 5, "type": "categorical", "psi": "1.5",
               "null_rate_baseline": "0", "null_rate_current": "0.5", "flags": ["psi", "nulls"],
               "histogram": {"kind": "categorical", "values": ["x" * 300, OTHER], "baseline": [5, 0],
                             "current": [0, 5]}}
    assert drift_chart.chart(feature)[:4] == b"\x89PNG"
