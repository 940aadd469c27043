"""The data check's statistics, each against the value numpy or scipy gives when called the plain way in the test, and
the report's bytes, the same on every run."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from bot.catalog import load_catalog
from bot.collectors import comparison, drift
from bot.collectors.columns import Limits
from bot.collectors.comparison import Thresholds
from bot.collectors.datacheck import Snapshot, run_check
from bot.collectors.worker import run_bounded
from bot.config import Settings
from bot.errors import ConfigError
from handlers.options import thresholds
from handlers.parsing import parse

RNG = np.random.default_rng(20261206)
BASE = RNG.normal(10, 2, 5000)
CUR = RNG.normal(10.8, 2.5, 4000)


def reference_psi(base: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    """PSI written plainly: baseline deciles as bin edges, shares floored at 1e-4."""
    edges = np.quantile(base, np.linspace(0.1, 0.9, 9))
    b = np.histogram(base, np.concatenate(([-np.inf], edges, [np.inf])))[0] / len(base)
    c = np.histogram(cur, np.concatenate(([-np.inf], edges, [np.inf])))[0] / len(cur)
    b, c = np.maximum(b, 1e-4), np.maximum(c, 1e-4)
    return float(np.sum((c - b) * np.log(c / b)))


def test_numeric_statistics_match_numpy_and_scipy() -> None:
    got = drift.numeric(BASE, CUR)
    ks = stats.ks_2samp(BASE, CUR)
    assert got.ks == pytest.approx(ks.statistic, abs=1e-12) and got.ks_pvalue == pytest.approx(ks.pvalue, rel=1e-9)
    assert got.wasserstein == pytest.approx(stats.wasserstein_distance(BASE, CUR), rel=1e-9)
    assert got.psi == pytest.approx(reference_psi(BASE, CUR), rel=1e-9) and got.psi > 0.1
    edges = np.concatenate(([-np.inf], np.quantile(BASE, np.linspace(0.1, 0.9, 9)), [np.inf]))
    p, q = np.histogram(BASE, edges)[0], np.histogram(CUR, edges)[0]
    assert got.js_distance == pytest.approx(jensenshannon(p / p.sum(), q / q.sum(), base=2), rel=1e-9)
    assert got.mean_baseline == pytest.approx(BASE.mean()) and got.mean_current == pytest.approx(CUR.mean())
    same = drift.numeric(BASE, BASE)
    assert (same.psi, same.ks, same.wasserstein, same.js_distance, same.ks_pvalue) == (0, 0, 0, 0, 1)


def test_psi_floors_empty_bins_and_survives_ties() -> None:
    expected = (0.5 - 1.0) * math.log(0.5) + (0.5 - drift.PSI_FLOOR) * math.log(0.5 / drift.PSI_FLOOR)
    assert drift.psi_from_counts([10, 0], [5, 5]) == pytest.approx(expected)
    ones = np.ones(100)
    assert drift.numeric(ones, ones[:50]).psi == 0.0 and len(drift.bin_edges(ones)) == 0


def test_categorical_statistics_match_scipy() -> None:
    base = pa.array(RNG.choice(["US", "GB", "DE", "FR", "BR"], 6000, p=[0.5, 0.2, 0.15, 0.1, 0.05]))
    cur = pa.array(RNG.choice(["US", "GB", "DE", "FR", "MX"], 5000, p=[0.3, 0.2, 0.15, 0.1, 0.25]))
    got = drift.categorical(base, cur)
    b, c = (dict(zip(*np.unique(np.asarray(a), return_counts=True), strict=True)) for a in (base, cur))
    labels = sorted(b, key=lambda k: (-b[k], k))
    table = np.array([[b[k] for k in labels] + [0], [c.get(k, 0) for k in labels] + [c["MX"]]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert got.chi2 == pytest.approx(chi2.statistic, rel=1e-9) and got.chi2_pvalue == pytest.approx(chi2.pvalue)
    assert got.psi == pytest.approx(drift.psi_from_counts(table[0], table[1]))
    assert (got.new, got.vanished, got.new_count, got.vanished_count) == (["MX"], ["BR"], 1, 1)


def csv_bytes(seed: int, shift: float = 0.0, nulls: float = 0.0) -> bytes:
    rng = np.random.default_rng(seed)
    n = 3000
    x = rng.normal(shift, 1, n)
    cat = rng.choice(["a", "b", "c"], n)
    lines = ["id,x,y,cat"] + [f"{i},{'' if rng.random() < nulls else repr(float(x[i]))},{rng.integers(0, 9)},"
                              f"{cat[i]}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def test_the_report_carries_every_statistic_as_text(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(csv_bytes(1))
    (tmp_path / "c.csv").write_bytes(csv_bytes(2, shift=0.6, nulls=0.1))
    report = comparison.report(("b.csv", str(tmp_path / "b.csv")), ("c.csv", str(tmp_path / "c.csv")), ["id"],
                               Thresholds(), Limits())
    x = next(f for f in report["features"] if f["column"] == "x")
    assert x["flags"] == ["ks", "psi", "nulls"] and float(x["null_rate_change"]) == pytest.approx(0.1, abs=0.02)
    assert {"ks_pvalue", "wasserstein", "js_distance", "mean_baseline"} <= x.keys()
    cat = next(f for f in report["features"] if f["column"] == "cat")
    assert {"chi2", "chi2_pvalue", "new_values", "vanished_values"} <= cat.keys() and cat["new_values"] == []
    assert report["key"]["matched"] == 3000 and report["key"]["changed_share"]["cat"] is not None
    floats: list[float] = []

    def walk(v: Any) -> None:
        if isinstance(v, float):
            floats.append(v)
        for w in v.values() if isinstance(v, dict) else v if isinstance(v, list) else ():
            walk(w)

    walk(report)
    assert floats == [] and x["psi"] == format(float(x["psi"]), ".6g")


async def test_the_same_inputs_give_byte_identical_reports_across_runs() -> None:
    base = Snapshot("E1", "b.csv", csv_bytes(3), {})
    cur = Snapshot("E2", "c.csv", csv_bytes(4, shift=0.3, nulls=0.05), {})
    settings = Settings()
    runs = await asyncio.gather(*(run_check(base, cur, key=["id"], thresholds=Thresholds(), settings=settings)
                                  for _ in range(2)))
    first, second = (hashlib.sha256(r.files[0].data).hexdigest() for r in runs)
    assert first == second and json.loads(runs[0].files[0].data)["flagged"] == ["x"]


def test_thresholds_come_from_the_command_then_the_team_config_then_the_settings(tmp_path: Path) -> None:
    team = tmp_path / "retro.yml"
    team.write_text("datacheck:\n  psi: 0.5\n  null_delta: 0.2\n")
    catalog = load_catalog(team)
    settings = Settings(retro_drift_ks=0.3)
    assert thresholds(settings, catalog.datacheck, parse("datacheck baseline=E1 current=E2")) == Thresholds(
        psi=0.5, ks=0.3, null_delta=0.2)
    assert thresholds(settings, catalog.datacheck, parse("datacheck baseline=E1 current=E2 psi=0.1")).psi == 0.1
    assert thresholds(settings, load_catalog().datacheck, parse("datacheck")) == Thresholds(ks=0.3)
    bad = tmp_path / "bad.yml"
    bad.write_text("datacheck:\n  ks: 2\n")
    with pytest.raises(ConfigError, match="datacheck"):
        load_catalog(bad)


@pytest.mark.slow
async def test_two_300_000_by_19_csvs_are_compared_within_the_default_worker_limits(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 300_000
    for name, shift in (("b.csv", 0.0), ("c.csv", 0.4)):
        cols: dict[str, Any] = {"id": np.arange(n)}
        cols |= {f"f{i}": rng.normal(shift if i == 0 else 0.0, 1, n) for i in range(14)}
        cols |= {f"c{i}": rng.choice(["a", "b", "c", "d"], n) for i in range(4)}
        pcsv.write_csv(pa.table(cols), tmp_path / name)
    defaults = Settings()
    sides = [(name, str(tmp_path / name)) for name in ("b.csv", "c.csv")]
    report = await run_bounded(comparison.report, (*sides, ["id"], Thresholds(), Limits()),
                               memory_mb=defaults.retro_datacheck_max_memory_mb,
                               timeout=defaults.retro_datacheck_timeout)
    assert report["flagged"] == ["f0"] and report["key"]["matched"] == n and len(report["features"]) == 18
