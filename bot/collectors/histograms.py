"""What a data check's chart shows of one flagged feature: the baseline's and the current snapshot's values binned
alike, as counts in the report (so that the chart can be drawn again from the report alone).

Numeric: BINS equal-width bins between the 0.5th and 99.5th percentiles of both samples together (values beyond fall
in the end bins, which the chart marks as open), computed like the drift statistics on values scaled by a power of
two so that extreme magnitudes stay finite. Categorical: the baseline's most common values, then values new in the
current snapshot, up to SHOWN in all, the rest pooled as OTHER.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from bot.collectors import drift

BINS = 20
SHOWN = 12
OTHER = "(other values)"
TAIL = 0.005  # the share of the pooled values beyond each end of the numeric range


def numeric(baseline: drift.Floats, current: drift.Floats) -> dict[str, Any]:
    """Equal-width bins over the central 99% of both samples: inner edges as floats and counts per side."""
    if not baseline.size or not current.size:
        return {"kind": "numeric", "edges": [], "baseline": [int(baseline.size)], "current": [int(current.size)]}
    e = drift.exponent(baseline, current)
    b, c = np.ldexp(baseline, -e), np.ldexp(current, -e)
    lo, hi = (float(q) for q in np.quantile(np.concatenate([b, c]), [TAIL, 1 - TAIL]))
    if not lo < hi:
        return {"kind": "numeric", "edges": [], "baseline": [int(b.size)], "current": [int(c.size)]}
    inner = np.linspace(lo, hi, BINS + 1)[1:-1]
    return {"kind": "numeric", "edges": [float(np.ldexp(x, e)) for x in inner],
            "baseline": drift.bin_counts(b, inner).tolist(), "current": drift.bin_counts(c, inner).tolist()}


def categorical(baseline: pa.Array, current: pa.Array) -> dict[str, Any]:
    """The values shown (most common in the baseline first, then new ones by count) and counts per side."""
    b, c = drift.value_counts(baseline), drift.value_counts(current)
    top = [k for k, _ in sorted(b.items(), key=lambda kv: (-kv[1], kv[0]))]
    new = [k for k, _ in sorted(((k, v) for k, v in c.items() if k not in b), key=lambda kv: (-kv[1], kv[0]))]
    n_new = min(len(new), max(SHOWN - len(top), SHOWN // 4))  # new values always get a few places
    shown = top[:SHOWN - n_new] + new[:n_new]
    kept = set(shown)
    rest = [sum(v for k, v in side.items() if k not in kept) for side in (b, c)]
    pooled = [OTHER] if any(rest) else []
    return {"kind": "categorical", "values": [str(k) for k in shown] + pooled,
            "baseline": [b.get(k, 0) for k in shown] + rest[:len(pooled)],
            "current": [c.get(k, 0) for k in shown] + rest[1:1 + len(pooled)]}


def shares(counts: list[int]) -> list[float]:
    """Counts as shares of their total (all zero when there is nothing)."""
    total = sum(counts)
    return [n / total if total else 0.0 for n in counts]


def finite(h: dict[str, Any]) -> bool:
    """Every edge a finite number (a chart cannot place an infinite one)."""
    return all(math.isfinite(x) for x in h.get("edges", []))
