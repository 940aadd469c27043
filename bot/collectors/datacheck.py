"""Comparing two data snapshots: schema, row counts, null rates, per-feature drift, and (with a key) row changes."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from bot.collectors import drift
from bot.collectors.base import JSON_TYPE, Artifact, Collected
from bot.collectors.tables import Column, DataError, Table, read_table

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
        out["mean_baseline"] = _r(sum(b.numbers) / len(b.numbers)) if b.numbers else None
        out["mean_current"] = _r(sum(c.numbers) / len(c.numbers)) if c.numbers else None
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


def _has_values(col: Column) -> bool:
    return bool(col.numbers or col.texts)


def _text(v: float | None) -> str | None:
    return None if v is None else f"{v:.4g}"


def metadata(report: dict[str, Any]) -> dict[str, Any]:
    """The custody summary of a report (numbers as text: the record holds no floats)."""
    flagged = [{"column": f["column"], "flags": f["flags"], "psi": _text(f["psi"]), "ks": _text(f["ks"]),
                "null_rate": f"{_text(f['null_rate_baseline'])} → {_text(f['null_rate_current'])}"}
               for f in report["features"] if f["flags"]]
    return {"check": NAME, "thresholds": report["thresholds"], "rows": {k: report["rows"][k] for k in
                                                                        ("baseline", "current")},
            "schema": report["schema"], "features": len(report["features"]), "flagged": flagged}


def summary(report: dict[str, Any]) -> str:
    """One line for the channel."""
    rows, schema, flagged = report["rows"], report["schema"], [f for f in report["features"] if f["flags"]]
    pct = f" ({rows['change'] * 100:+.1f}%)" if rows["change"] is not None else ""
    parts = [f"{len(flagged)} of {len(report['features'])} feature(s) flagged"]
    parts.append(f"rows {rows['baseline']} → {rows['current']}{pct}")
    diffs = len(schema["added"]) + len(schema["removed"]) + len(schema["type_changed"])
    parts.append(f"{diffs} schema difference(s)" if diffs else "same schema")
    return " · ".join(parts)


def _side(t: Table) -> dict[str, Any]:
    return {"name": t.name, "format": t.format, "rows": t.rows, "columns": len(t.columns),
            "ragged_rows": t.ragged_rows}


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any], *, inputs: dict[str, dict[str, Any]]) -> str:
    """The report for people: inputs with digests, schema, rows, the feature table, the method."""
    th, rows, schema = report["thresholds"], report["rows"], report["schema"]
    lines = ["# Data check", "", "| | Snapshot | SHA-256 | Rows | Columns |", "|---|---|---|---|---|"]
    for side in ("baseline", "current"):
        s, src = report[side], inputs.get(side, {})
        lines.append(f"| {side} | {src.get('ref', s['name'])} ({s['name']}) | `{src.get('sha256', '')}` "
                     f"| {s['rows']} | {s['columns']} |")
    pct = f"{rows['change'] * 100:+.1f}%" if rows["change"] is not None else "n/a"
    lines += ["", f"Rows: {rows['baseline']} → {rows['current']} ({pct})", "", "## Schema", ""]
    if not (schema["added"] or schema["removed"] or schema["type_changed"]):
        lines.append("No schema differences.")
    lines += [f"- added: `{c}`" for c in schema["added"]] + [f"- removed: `{c}`" for c in schema["removed"]]
    lines += [f"- type of `{t['column']}`: {t['baseline']} → {t['current']}" for t in schema["type_changed"]]
    lines += ["", "## Features", "", "| Feature | Type | Null rate (base → cur) | PSI | KS | KS p | Flags |",
              "|---|---|---|---|---|---|---|"]
    for f in report["features"]:
        lines.append(f"| `{f['column']}` | {f['type']} | {_cell(f['null_rate_baseline'])} → "
                     f"{_cell(f['null_rate_current'])} | {_cell(f['psi'])} | {_cell(f['ks'])} | "
                     f"{_cell(f['ks_pvalue'])} | {', '.join(f['flags']) or 'ok'} |")
    key = report.get("key")
    if key:
        lines += ["", f"## Rows matched on {', '.join(key['columns'])}", "",
                  f"{key['matched']} matched; {key['only_baseline']} only in baseline; {key['only_current']} only "
                  f"in current; duplicates {key['duplicates_baseline']} / {key['duplicates_current']}.", ""]
        shares = sorted(key["changed_share"].items())
        lines += [f"- `{c}` changed in {_cell(s)} of matched rows" for c, s in shares if s]
    lines += ["", "## Method", "",
              f"Flagged when PSI ≥ {th['psi']} (numeric: baseline deciles; categorical: top 20 values, rest "
              f"pooled), KS statistic ≥ {th['ks']} (numeric), or the null rate moves by ≥ {th['null_delta']}.",
              f"Flagged: {', '.join(f'`{c}`' for c in report['flagged']) or 'nothing'}.", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Snapshot:
    """One side of a check: the reference as typed, the file name, the bytes, and where they came from."""

    ref: str
    name: str
    data: bytes
    source: dict[str, Any]

    @property
    def sha256(self) -> str:
        """The digest of the bytes compared."""
        return hashlib.sha256(self.data).hexdigest()

    def record(self) -> dict[str, Any]:
        """The custody line of this input."""
        return {**self.source, "ref": self.ref, "name": self.name, "sha256": self.sha256, "size": len(self.data)}


def check(base: Snapshot, cur: Snapshot, *, key: list[str], thresholds: Thresholds) -> Collected:
    """Read both snapshots, compare them and package the report (JSON + Markdown) as a collection (CPU-bound)."""
    report = compare(read_table(base.name, base.data), read_table(cur.name, cur.data), key=key,
                     thresholds=thresholds)
    inputs = {"baseline": base.record(), "current": cur.record()}
    report["inputs"] = inputs
    files = (Artifact("datacheck-report.json", JSON_TYPE,
                      json.dumps(report, indent=2, sort_keys=True, allow_nan=False).encode()),
             Artifact("datacheck-report.md", "text/markdown", markdown(report, inputs=inputs).encode()))
    options = {"snapshot": f"{cur.name}@sha256:{cur.sha256}", "baseline": f"{base.name}@sha256:{base.sha256}"}
    if key:
        options["key"] = ",".join(key)
    return Collected(files=files, source_url=f"baseline {base.ref} ({base.name}), current {cur.ref} ({cur.name})",
                     request={"baseline": base.ref, "current": cur.ref, "key": key,
                              "thresholds": thresholds.as_text()},
                     metadata={**metadata(report), "inputs": inputs}, summary=summary(report), options=options)
