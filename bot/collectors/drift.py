"""Drift statistics with numpy and scipy: PSI, two-sample KS, Wasserstein and Jensen–Shannon distances for numeric
features; PSI, chi-square and new/vanished values for categorical ones.

Numeric samples are first scaled by a power of two at least their largest magnitude (exact in binary floating point),
so that values near the float range give finite quantiles, means and distances; scale-free statistics are computed
on the scaled values as they are, distances are scaled back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_BINS = 10
PSI_FLOOR = 1e-4  # empty bins get this share, so one empty bin cannot make the index infinite
TOP_CATEGORIES = 20
LISTED = 20  # new or vanished values named in a report

Floats = np.ndarray[Any, np.dtype[np.float64]]
Counts = np.ndarray[Any, np.dtype[np.int64]]


def psi_from_counts(base_counts: Any, cur_counts: Any) -> float:
    """PSI = Σ (cur − base) · ln(cur / base) over matching bins, shares floored at PSI_FLOOR."""
    b, c = np.asarray(base_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)
    if b.sum() == 0 or c.sum() == 0:
        return math.nan
    pb, pc_ = np.maximum(b / b.sum(), PSI_FLOOR), np.maximum(c / c.sum(), PSI_FLOOR)
    return float(np.sum((pc_ - pb) * np.log(pc_ / pb)))


def exponent(*samples: Floats) -> int:
    """e such that every |value| < 2**e."""
    top = max((float(np.max(np.abs(s))) for s in samples if s.size), default=0.0)
    return math.frexp(top)[1]


def bin_edges(baseline: Floats, bins: int = PSI_BINS) -> Floats:
    """Inner edges at the baseline's deciles (numpy's linear quantiles), without duplicates or the maximum."""
    edges = np.unique(np.quantile(baseline, np.arange(1, bins) / bins))
    kept: Floats = edges[edges < np.max(baseline)]
    return kept


def bin_counts(values: Floats, edges: Floats) -> Counts:
    """How many values fall in each bin (a value equal to an edge falls below it)."""
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1).astype(np.int64)


@dataclass(frozen=True)
class Numeric:
    """What two numeric samples say about each other."""

    psi: float
    ks: float
    ks_pvalue: float
    wasserstein: float
    js_distance: float
    mean_baseline: float
    mean_current: float


def numeric(baseline: Floats, current: Floats) -> Numeric:
    """PSI over the baseline's deciles, scipy's two-sample KS (statistic and p-value), Wasserstein distance, and the
    Jensen–Shannon distance (base 2) between the shares of the decile bins."""
    nan = math.nan
    if not baseline.size or not current.size:
        mb = float(np.mean(baseline)) if baseline.size else nan
        mc = float(np.mean(current)) if current.size else nan
        return Numeric(nan, nan, nan, nan, nan, mb, mc)
    e = exponent(baseline, current)
    b, c = np.ldexp(baseline, -e), np.ldexp(current, -e)
    b.sort()  # in place, on the scaled copies: each sample is sorted once, and scipy's own sorts of sorted data
    c.sort()  # are quick (every statistic here is of the values' distribution, not of their order)
    edges = bin_edges(b)
    cb, cc = bin_counts(b, edges), bin_counts(c, edges)
    ks = stats.ks_2samp(b, c)
    js = float(jensenshannon(cb / cb.sum(), cc / cc.sum(), base=2)) if len(edges) else 0.0
    return Numeric(psi=psi_from_counts(cb, cc), ks=float(ks.statistic), ks_pvalue=float(ks.pvalue),
                   wasserstein=_back(stats.wasserstein_distance(b, c), e), js_distance=js,
                   mean_baseline=_back(np.mean(b), e), mean_current=_back(np.mean(c), e))


def _back(scaled: Any, e: int) -> float:
    return float(np.ldexp(float(scaled), e))


@dataclass(frozen=True)
class Categorical:
    """What two categorical samples say about each other."""

    psi: float
    chi2: float
    chi2_pvalue: float
    new: list[str]
    vanished: list[str]
    new_count: int
    vanished_count: int


def value_counts(values: pa.Array) -> dict[str, int]:
    """How often each value occurs."""
    counted = pc.value_counts(values)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


def categorical(baseline: pa.Array, current: pa.Array, top: int = TOP_CATEGORIES) -> Categorical:
    """PSI over the baseline's `top` most common values with the rest pooled (unseen ones too); scipy's chi-square
    test of homogeneity over the same bins; values found on one side only."""
    b, c = value_counts(baseline), value_counts(current)
    new, vanished = sorted(c.keys() - b.keys()), sorted(b.keys() - c.keys())
    if not b or not c:
        return Categorical(math.nan, math.nan, math.nan, new[:LISTED], vanished[:LISTED], len(new), len(vanished))
    keep = [k for k, _ in sorted(b.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    kept = set(keep)
    base_counts = [b[k] for k in keep] + [sum(v for k, v in b.items() if k not in kept)]
    cur_counts = [c.get(k, 0) for k in keep] + [sum(v for k, v in c.items() if k not in kept)]
    if base_counts[-1] == 0 and cur_counts[-1] == 0:
        base_counts, cur_counts = base_counts[:-1], cur_counts[:-1]
    table = np.array([base_counts, cur_counts], dtype=np.int64)
    if table.shape[1] < 2:
        chi2, p = 0.0, 1.0
    else:
        res = stats.chi2_contingency(table, correction=False)
        chi2, p = float(res.statistic), float(res.pvalue)
    return Categorical(psi_from_counts(base_counts, cur_counts), chi2, p, new[:LISTED], vanished[:LISTED], len(new),
                       len(vanished))
