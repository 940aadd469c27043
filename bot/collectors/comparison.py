"""Comparing two data snapshots: schema, row counts, null rates, per-feature drift, and (with a key) row changes.

`report(baseline, current, key, thresholds, limits)` is the whole job as a pure function, two (name, file path) pairs
in and a JSON-ready report out, so that it can run in a worker process (bot/collectors/worker.py). Every number in
the report other than a count is text with FLOAT_FORMAT, and every list has a fixed order: the same inputs give the
same bytes on every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bot.collectors import drift, histograms
from bot.collectors.columns import Column, DataError, Limits, Table
from bot.collectors.tables import read_table

NAME = "datacheck"
VERSION = "2.1"  # 2.1: flagged features carry the histogram their chart shows
FLOAT_FORMAT = ".6g"
Ints = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Thresholds:
    """When a feature is flagged."""

    psi: float = 0.2
    ks: float = 0.15
    null_delta: float = 0.05

    def as_text(self) -> dict[str, str]:
        """JSON-safe form for the custody record."""
        return {"psi": f"{self.psi:g}", "ks": f"{self.ks:g}", "null_delta": f"{self.null_delta:g}"}


def number(v: float | None) -> str | None:
    """A float as report text: FLOAT_FORMAT, no negative zero; None for a missing (NaN) value."""
    if v is None or math.isnan(v):
        return None
    return format(v + 0.0, FLOAT_FORMAT)


def _rate(col: Column, rows: int) -> float:
    return col.nulls / rows if rows else 0.0


def feature(name: str, b: Column, c: Column, rows: tuple[int, int], th: Thresholds) -> dict[str, Any]:
    """Drift and null-rate findings for one column present on both sides (floats, NaN when not defined)."""
    nb, nc = _rate(b, rows[0]), _rate(c, rows[1])
    out: dict[str, Any] = {"column": name, "type": b.kind if b.kind == c.kind else f"{b.kind}→{c.kind}",
                           "null_rate_baseline": nb, "null_rate_current": nc, "null_rate_change": nc - nb,
                           "flags": []}
    if b.numeric and c.numeric:
        s = drift.numeric(b.numbers(), c.numbers())
        out.update(psi=s.psi, ks=s.ks, ks_pvalue=s.ks_pvalue, wasserstein=s.wasserstein, js_distance=s.js_distance,
                   mean_baseline=s.mean_baseline, mean_current=s.mean_current)
        if not math.isnan(s.ks) and s.ks >= th.ks:
            out["flags"].append("ks")
    else:
        k = drift.categorical(b.texts(), c.texts())
        out.update(psi=k.psi, chi2=k.chi2, chi2_pvalue=k.chi2_pvalue, new_values=k.new, new_count=k.new_count,
                   vanished_values=k.vanished, vanished_count=k.vanished_count)
    if not math.isnan(out["psi"]) and out["psi"] >= th.psi:
        out["flags"].append("psi")
    if abs(nc - nb) >= th.null_delta:
        out["flags"].append("nulls")
    return out


def _key_values(col: Column, as_text: bool) -> pa.Array:
    return col.values.cast(pa.string()) if as_text and col.numeric else col.values


def _codes(base: Table, cur: Table, key: list[str], as_text: dict[str, bool]) -> tuple[Ints, Ints]:
    """One integer per row standing for its key, the same on both sides (a missing key value is a value too)."""
    code = np.zeros(base.rows + cur.rows, dtype=np.int64)
    for k in key:
        both = pa.concat_arrays([_key_values(base.columns[k], as_text[k]), _key_values(cur.columns[k], as_text[k])])
        enc = pc.dictionary_encode(both)
        idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64) + 1
        _, code = np.unique(code * (len(enc.dictionary) + 1) + idx, return_inverse=True)
    return code[:base.rows], code[base.rows:]


def _same(a: pa.Array, b: pa.Array) -> int:
    equal = pc.fill_null(pc.equal(a, b), False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return int(pc.sum(pc.or_(equal, both_null).cast(pa.int64())).as_py() or 0)


def key_changes(base: Table, cur: Table, key: list[str]) -> dict[str, Any]:
    """Rows matched on the key (each key's first row): duplicates, keys on one side only, and the share of changed
    values per column."""
    as_text = {k: base.columns[k].numeric != cur.columns[k].numeric for k in key}
    codes_b, codes_c = _codes(base, cur, key, as_text)
    keys_b, first_b = np.unique(codes_b, return_index=True)  # each key's first row
    keys_c, first_c = np.unique(codes_c, return_index=True)
    _, at_b, at_c = np.intersect1d(keys_b, keys_c, assume_unique=True, return_indices=True)
    matched = len(at_b)
    bi, ci = pa.array(first_b[at_b]), pa.array(first_c[at_c])
    changed: dict[str, float] = {}
    for name in sorted(c for c in base.columns if c in cur.columns and c not in key):
        b, c = base.columns[name], cur.columns[name]
        text = b.numeric != c.numeric
        va, vb = _key_values(b, text).take(bi), _key_values(c, text).take(ci)
        changed[name] = (matched - _same(va, vb)) / matched if matched else math.nan
    return {"columns": key, "duplicates_baseline": base.rows - len(keys_b),
            "duplicates_current": cur.rows - len(keys_c), "matched": matched, "only_baseline": len(keys_b) - matched,
            "only_current": len(keys_c) - matched, "changed_share": changed}


def histogram(b: Column, c: Column) -> dict[str, Any]:
    """What the chart of a flagged feature shows (bot/collectors/histograms.py)."""
    if b.numeric and c.numeric:
        return histograms.numeric(b.numbers(), c.numbers())
    return histograms.categorical(b.texts(), c.texts())


def _side(t: Table) -> dict[str, Any]:
    return {"name": t.name, "format": t.format, "rows": t.rows, "columns": len(t.columns),
            "ragged_rows": t.ragged_rows}


def _has_values(col: Column) -> bool:
    return col.present > 0


def compare(base: Table, cur: Table, *, key: list[str] | None = None,
            thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """The full report, JSON-ready: floats as text (`number`), NaN as null, lists in a fixed order."""
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
    features.sort(key=lambda f: (not f["flags"], -(0 if math.isnan(f["psi"]) else f["psi"]), f["column"]))
    for f in features:
        if f["flags"]:
            f["histogram"] = histogram(base.columns[f["column"]], cur.columns[f["column"]])
    change = (cur.rows - base.rows) / base.rows if base.rows else math.nan
    out = {
        "check": NAME, "version": VERSION, "thresholds": thresholds.as_text(),
        "baseline": _side(base), "current": _side(cur),
        "rows": {"baseline": base.rows, "current": cur.rows, "change": change},
        "schema": {"added": added, "removed": removed, "type_changed": changed_types},
        "features": features,
        "key": key_changes(base, cur, key) if key else None,
        "flagged": [f["column"] for f in features if f["flags"]],
    }
    require_finite(out)
    text: dict[str, Any] = as_text(out)
    return text


def as_text(value: Any) -> Any:
    """Every float in a nested report as text (`number`)."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_text(v) for v in value]
    return value


def require_finite(value: Any, where: str = "report") -> None:
    """Refuse a report holding an infinite number (it would mean nothing); NaN stands for "not defined"."""
    if isinstance(value, float) and math.isinf(value):
        raise DataError(f"The comparison came out as a non-finite number ({where}); the snapshots hold values too "
                        "large to compare.")
    if isinstance(value, dict):
        for k, v in value.items():
            require_finite(v, f"{where}, {k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            require_finite(v, f"{where}, column `{v['column']}`" if isinstance(v, dict) and "column" in v
                           else f"{where}[{i}]")


def report(base: tuple[str, str], cur: tuple[str, str], key: list[str], thresholds: Thresholds,
           limits: Limits) -> dict[str, Any]:
    """Read both snapshots, each (display name, file path), within `limits` and compare them: the whole job of a
    worker process."""
    return compare(read_table(*base, limits), read_table(*cur, limits), key=key, thresholds=thresholds)
