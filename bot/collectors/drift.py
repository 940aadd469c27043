"""Drift statistics in pure Python: population stability index (numeric and categorical) and two-sample KS."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

PSI_BINS = 10
PSI_FLOOR = 1e-4  # empty bins get this share, so one empty bin cannot make the index infinite
TOP_CATEGORIES = 20
OTHER = "\u2026other"


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values (linear interpolation between closest ranks)."""
    if not sorted_values:
        raise ValueError("quantile of nothing")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    a, b = sorted_values[lo], sorted_values[min(lo + 1, len(sorted_values) - 1)]
    if a == b:
        return a
    if math.isinf(b - a):  # both finite, but far enough apart that the difference overflows
        return a * (1 - (pos - lo)) + b * (pos - lo)
    return a + (b - a) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    """The mean of finite values, correctly rounded, without overflow when their sum exceeds the float range."""
    if not values:
        raise ValueError("mean of nothing")
    try:
        return math.fsum(values) / len(values)
    except OverflowError:
        return math.fsum(v / len(values) for v in values)


def bin_edges(baseline: Sequence[float], bins: int = PSI_BINS) -> list[float]:
    """Inner edges at the baseline's quantiles, without duplicates (few distinct values give fewer bins)."""
    ordered = sorted(baseline)
    edges: list[float] = []
    for i in range(1, bins):
        e = quantile(ordered, i / bins)
        if not edges or e > edges[-1]:
            edges.append(e)
    if edges and edges[-1] >= ordered[-1]:
        edges.pop()
    return edges


def _shares(counts: Sequence[int], total: int) -> list[float]:
    return [max(c / total, PSI_FLOOR) for c in counts]


def psi_from_counts(base_counts: Sequence[int], cur_counts: Sequence[int]) -> float:
    """PSI = Σ (cur − base) · ln(cur / base) over matching bins."""
    nb, nc = sum(base_counts), sum(cur_counts)
    if nb == 0 or nc == 0:
        return math.nan
    return sum((c - b) * math.log(c / b) for b, c in zip(_shares(base_counts, nb), _shares(cur_counts, nc),
                                                         strict=True))


def psi_numeric(baseline: Sequence[float], current: Sequence[float], bins: int = PSI_BINS) -> float:
    """PSI of a numeric feature over bins at the baseline's deciles (values equal to an edge fall below it)."""
    if not baseline or not current:
        return math.nan
    edges = bin_edges(baseline, bins)

    def counts(values: Sequence[float]) -> list[int]:
        out = [0] * (len(edges) + 1)
        for v in values:
            out[bisect_left(edges, v)] += 1
        return out

    return psi_from_counts(counts(baseline), counts(current))


def psi_categorical(baseline: Sequence[str], current: Sequence[str], top: int = TOP_CATEGORIES) -> float:
    """PSI of a categorical feature over the baseline's most common values, the rest pooled (unseen ones too)."""
    if not baseline or not current:
        return math.nan
    b, c = Counter(baseline), Counter(current)
    keep = [k for k, _ in sorted(b.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    kept = set(keep)
    base_counts = [b[k] for k in keep] + [sum(v for k, v in b.items() if k not in kept)]
    cur_counts = [c[k] for k in keep] + [sum(v for k, v in c.items() if k not in kept)]
    if base_counts[-1] == 0 and cur_counts[-1] == 0:
        base_counts, cur_counts = base_counts[:-1], cur_counts[:-1]
    return psi_from_counts(base_counts, cur_counts)


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """The two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs."""
    if not a or not b:
        return math.nan
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    i = j = 0
    d = 0.0
    while i < n and j < m:
        x = min(xs[i], ys[j])
        while i < n and xs[i] <= x:
            i += 1
        while j < m and ys[j] <= x:
            j += 1
        d = max(d, abs(i / n - j / m))
    return d


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic p-value of the two-sample KS statistic (Kolmogorov distribution, Stephens' correction)."""
    if math.isnan(d) or n == 0 or m == 0:
        return math.nan
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return min(1.0, max(0.0, total))
