"""Comparing two data snapshots: schema, row counts, null rates, per-feature drift, and (with a key) row changes.

`report` is the whole job as a pure function, bytes in and a JSON-ready report out, so that it can run in a worker
process (bot/collectors/worker.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.collectors import drift
from bot.collectors.tables import Column, DataError, Limits, Table, read_table

NAME = "datacheck"
VERSION = "1.0"


@dataclass(frozen=True)
class Thresholds:
    """When a feature is flagged."""

    psi: float = 0.2
    ks: float = 0.15
    null_delta: float = 0.05

    def as_text(self) -> dict[str, str]:
        """JSON-safe form for the custody record."""
        return {"psi": f"{self.psi:g}", "ks": f"{self.ks:g}", "null_delta": f"{self.null_delta:g}"}


def _r(v: float, digits: int = 4) -> float | None:
    return None if math.isnan(v) else round(v, digits)


def _rate(col: Column | None, rows: int) -> float:
    return col.nulls / rows if col is not None and rows else 0.0


def feature(name: str, b: Column, c: Column, rows: tuple[int, int], th: Thresholds) -> dict[str, Any]:
    """Drift and null-rate findings for one column present on both sides."""
    nb, nc = _rate(b, rows[0]), _rate(c, rows[1])
    out: dict[str, Any] = {"column": name, "type": b.kind if b.kind == c.kind else f"{b.kind}→{c.kind}",
                           "null_rate_baseline": _r(nb), "null_rate_current": _r(nc), "psi": None, "ks": None,
                           "ks_pvalue": None, "flags": []}
    if b.numeric and c.numeric:
        psi, ks = drift.psi_numeric(b.numbers, c.numbers), drift.ks_statistic(b.numbers, c.numbers)
        out.update(psi=_r(psi), ks=_r(ks), ks_pvalue=_r(drift.ks_pvalue(ks, len(b.numbers), len(c.numbers)), 6))
        out["mean_baseline"] = _r(drift.mean(b.numbers)) if b.numbers else None
        out["mean_current"] = _r(drift.mean(c.numbers)) if c.numbers else None
        if not math.isnan(ks) and ks >= th.ks:
            out["flags"].append("ks")
    else:
        psi = drift.psi_categorical(b.values(), c.values())
        out["psi"] = _r(psi)
    if not math.isnan(psi) and psi >= th.psi:
        out["flags"].append("psi")
    if abs(nc - nb) >= th.null_delta:
        out["flags"].append("nulls")
    return out


def key_changes(base: Table, cur: Table, key: list[str]) -> dict[str, Any]:
    """Rows matched on the key: duplicates, keys on one side only, and the share of changed values per column."""
    def index(t: Table) -> tuple[dict[tuple[str | None, ...], int], int]:
        seen: dict[tuple[str | None, ...], int] = {}
        dupes = 0
        for i in range(t.rows):
            k = tuple(t.cells[c][i] for c in key)
            if k in seen:
                dupes += 1
            else:
                seen[k] = i
        return seen, dupes

    bi, bd = index(base)
    ci, cd = index(cur)
    both = [k for k in bi if k in ci]
    common = [c for c in base.columns if c in cur.columns and c not in key]
    changed: dict[str, float | None] = {}
    for col in common:
        bc, cc = base.cells[col], cur.cells[col]
        diff = sum(1 for k in both if _norm(bc[bi[k]]) != _norm(cc[ci[k]]))
        changed[col] = _r(diff / len(both)) if both else None
    return {"columns": key, "duplicates_baseline": bd, "duplicates_current": cd, "matched": len(both),
            "only_baseline": len(bi) - len(both), "only_current": len(ci) - len(both), "changed_share": changed}


def _norm(v: str | None) -> str | None:
    if v is None:
        return None
    try:
        return f"{float(v):.12g}"
    except ValueError:
        return v


def _has_values(col: Column) -> bool:
    return bool(col.numbers or col.texts)


def _side(t: Table) -> dict[str, Any]:
    return {"name": t.name, "format": t.format, "rows": t.rows, "columns": len(t.columns),
            "ragged_rows": t.ragged_rows}


def compare(base: Table, cur: Table, *, key: list[str] | None = None,
            thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """The full report as a JSON-ready dict (floats rounded; NaN as null)."""
    key = key or []
    for k in key:
        for t in (base, cur):
            if k not in t.columns:
                raise DataError(f"Key column `{k}` is not in {t.name} (columns: {', '.join(list(t.columns)[:20])}).")
    added = [c for c in cur.columns if c not in base.columns]
    removed = [c for c in base.columns if c not in cur.columns]
    changed_types = [{"column": c, "baseline": base.columns[c].kind, "current": cur.columns[c].kind}
                     for c in base.columns if c in cur.columns and base.columns[c].kind != cur.columns[c].kind
                     and _has_values(base.columns[c]) and _has_values(cur.columns[c])]
    features = [feature(c, base.columns[c], cur.columns[c], (base.rows, cur.rows), thresholds)
                for c in base.columns if c in cur.columns and c not in key]
    for f in features:
        if any(t["column"] == f["column"] for t in changed_types):
            f["flags"].append("type")
    flagged = [f["column"] for f in features if f["flags"]]
    change = (cur.rows - base.rows) / base.rows if base.rows else math.nan
    return {
        "check": NAME, "version": VERSION, "thresholds": thresholds.as_text(),
        "baseline": _side(base), "current": _side(cur),
        "rows": {"baseline": base.rows, "current": cur.rows, "change": _r(change)},
        "schema": {"added": added, "removed": removed, "type_changed": changed_types},
        "features": sorted(features, key=lambda f: (not f["flags"], -(f["psi"] or 0), f["column"])),
        "key": key_changes(base, cur, key) if key else None,
        "flagged": flagged,
    }


def require_finite(value: Any, where: str = "report") -> None:
    """Refuse a report holding an infinite or NaN number (JSON cannot carry one, and it would mean nothing)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"The comparison came out as a non-finite number ({where}); the snapshots hold values too "
                        "large to compare.")
    if isinstance(value, dict):
        for k, v in value.items():
            require_finite(v, f"{where}, {k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            require_finite(v, f"{where}, column `{v['column']}`" if isinstance(v, dict) and "column" in v
                           else f"{where}[{i}]")


def report(base: tuple[str, bytes], cur: tuple[str, bytes], key: list[str], thresholds: Thresholds,
           limits: Limits) -> dict[str, Any]:
    """Read both snapshots (name, bytes) within `limits` and compare them: the whole job of a worker process."""
    out = compare(read_table(*base, limits), read_table(*cur, limits), key=key, thresholds=thresholds)
    require_finite(out)
    return out
