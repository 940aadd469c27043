"""A data check as evidence: the report of two snapshots compared (bot/collectors/comparison.py), computed in a
bounded worker process, packaged as JSON and Markdown with the inputs' digests."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bot.collectors import comparison, drift_chart
from bot.collectors.base import JSON_TYPE, Artifact, Collected
from bot.collectors.columns import DEFAULT_LIMITS, DataError, Limits
from bot.collectors.comparison import Thresholds
from bot.collectors.drift_chart import MAX_CHARTS
from bot.collectors.spool import Folder, Spool
from bot.collectors.worker import WorkerError, run_bounded
from bot.config import Settings
from bot.insights import analyses


def _text(v: str | None) -> str | None:
    return None if v is None else f"{float(v):.4g}"


def metadata(report: dict[str, Any]) -> dict[str, Any]:
    """The custody summary of a report (numbers as text: the record holds no floats)."""
    flagged = [{"column": f["column"], "flags": f["flags"], "psi": _text(f["psi"]), "ks": _text(f.get("ks")),
                "null_rate": f"{_text(f['null_rate_baseline'])} → {_text(f['null_rate_current'])}"}
               for f in report["features"] if f["flags"]]
    return {"check": comparison.NAME, "thresholds": report["thresholds"], "rows": {k: report["rows"][k] for k in
                                                                        ("baseline", "current")},
            "schema": report["schema"], "features": len(report["features"]), "flagged": flagged}


def summary(report: dict[str, Any]) -> str:
    """One line for the channel."""
    rows, schema, flagged = report["rows"], report["schema"], [f for f in report["features"] if f["flags"]]
    pct = f" ({float(rows['change']) * 100:+.1f}%)" if rows["change"] is not None else ""
    parts = [f"{len(flagged)} of {len(report['features'])} feature(s) flagged"]
    parts.append(f"rows {rows['baseline']} → {rows['current']}{pct}")
    diffs = len(schema["added"]) + len(schema["removed"]) + len(schema["type_changed"])
    parts.append(f"{diffs} schema difference(s)" if diffs else "same schema")
    return " · ".join(parts)


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    return str(v)


def markdown(report: dict[str, Any], *, inputs: dict[str, dict[str, Any]]) -> str:
    """The report for people: inputs with digests, schema, rows, the feature table, the method."""
    th, rows, schema = report["thresholds"], report["rows"], report["schema"]
    lines = ["# Data check", "", "| | Snapshot | SHA-256 | Rows | Columns |", "|---|---|---|---|---|"]
    for side in ("baseline", "current"):
        s, src = report[side], inputs.get(side, {})
        lines.append(f"| {side} | {src.get('ref', s['name'])} ({s['name']}) | `{src.get('sha256', '')}` "
                     f"| {s['rows']} | {s['columns']} |")
    pct = f"{float(rows['change']) * 100:+.1f}%" if rows["change"] is not None else "n/a"
    lines += ["", f"Rows: {rows['baseline']} → {rows['current']} ({pct})", "", "## Schema", ""]
    if not (schema["added"] or schema["removed"] or schema["type_changed"]):
        lines.append("No schema differences.")
    lines += [f"- added: `{c}`" for c in schema["added"]] + [f"- removed: `{c}`" for c in schema["removed"]]
    lines += [f"- type of `{t['column']}`: {t['baseline']} → {t['current']}" for t in schema["type_changed"]]
    lines += ["", "## Features", "", "| Feature | Type | Null rate (base → cur) | PSI | KS | KS p | Wasserstein | "
              "JS distance | χ² p | New / vanished values | Flags |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in report["features"]:
        seen = (f"{f['new_count']} / {f['vanished_count']}" if "new_count" in f else "—")
        lines.append(f"| `{f['column']}` | {f['type']} | {_cell(f['null_rate_baseline'])} → "
                     f"{_cell(f['null_rate_current'])} | {_cell(f['psi'])} | {_cell(f.get('ks'))} | "
                     f"{_cell(f.get('ks_pvalue'))} | {_cell(f.get('wasserstein'))} | {_cell(f.get('js_distance'))} | "
                     f"{_cell(f.get('chi2_pvalue'))} | {seen} | {', '.join(f['flags']) or 'ok'} |")
    key = report.get("key")
    if key:
        lines += ["", f"## Rows matched on {', '.join(key['columns'])}", "",
                  f"{key['matched']} matched; {key['only_baseline']} only in baseline; {key['only_current']} only "
                  f"in current; duplicates {key['duplicates_baseline']} / {key['duplicates_current']}.", ""]
        shares = sorted(key["changed_share"].items())
        lines += [f"- `{c}` changed in {_cell(s)} of matched rows" for c, s in shares if s]
    lines += ["", "## Method", "",
              f"Flagged when PSI ≥ {th['psi']} (numeric: baseline deciles; categorical: top 20 values, rest "
              f"pooled), KS statistic ≥ {th['ks']} (numeric), or the null rate moves by ≥ {th['null_delta']}. "
              "KS p-value, Wasserstein and χ² are scipy's; the Jensen–Shannon distance (base 2) is over the decile "
              "bins.",
              f"Flagged: {', '.join(f'`{c}`' for c in report['flagged']) or 'nothing'}.", ""]
    drawn = [f["column"] for f in report["features"] if f.get("histogram")]
    if drawn:
        lines += [f"Charts (`datacheck-chart-*.png`) of {', '.join(f'`{c}`' for c in drawn[:MAX_CHARTS])}"
                  f"{f' (the first {MAX_CHARTS} of {len(drawn)})' if len(drawn) > MAX_CHARTS else ''}: baseline and "
                  "current as shares of each snapshot's values; numeric ones in 20 equal-width bins over the central "
                  "99% of both, the end bins open. The counts are under `histogram` in the JSON.", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Snapshot:
    """One side of a check: the reference as typed, the file name, its content, and where it came from. The bot
    gives a Spool (the snapshot streamed to a private file, hashed on the way); tests and benches may give bytes."""

    ref: str
    name: str
    data: bytes | Spool
    source: dict[str, Any]

    @cached_property
    def sha256(self) -> str:
        """The digest of the bytes compared."""
        return self.data.sha256 if isinstance(self.data, Spool) else hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        """Its size in bytes."""
        return self.data.size if isinstance(self.data, Spool) else len(self.data)

    def record(self) -> dict[str, Any]:
        """The custody line of this input."""
        return {**self.source, "ref": self.ref, "name": self.name, "sha256": self.sha256, "size": self.size}


def analysis_of(report: dict[str, Any], base: Snapshot, cur: Snapshot, *, key: list[str], thresholds: Thresholds,
                limits: Limits) -> dict[str, Any]:
    """The pinned record of a check: both inputs by digest, every parameter, and the digest of the report as computed
    (before its custody lines are added)."""
    inputs = {side: {"name": s.name, "sha256": s.sha256, "size": s.size} for side, s in (("baseline", base),
                                                                                          ("current", cur))}
    params = {"method": f"{comparison.NAME} {comparison.VERSION}", "key": list(key),
              "thresholds": thresholds.as_text(), "limits": {"columns": limits.columns, "cells": limits.cells}}
    return analyses.record(analyses.DATACHECK, inputs=inputs, params=params, output=report)


def package(report: dict[str, Any], base: Snapshot, cur: Snapshot, *, key: list[str],
            thresholds: Thresholds, limits: Limits = DEFAULT_LIMITS) -> Collected:
    """The report (JSON + Markdown) with both inputs' custody lines and its analysis record, as a collection."""
    analysis = analysis_of(report, base, cur, key=key, thresholds=thresholds, limits=limits)
    inputs = {"baseline": base.record(), "current": cur.record()}
    report["inputs"] = inputs
    files = (Artifact("datacheck-report.json", JSON_TYPE,
                      json.dumps(report, indent=2, sort_keys=True, allow_nan=False).encode()),
             Artifact("datacheck-report.md", "text/markdown", markdown(report, inputs=inputs).encode()),
             *drift_chart.charts(report))
    options = {"snapshot": f"{cur.name}@sha256:{cur.sha256}", "baseline": f"{base.name}@sha256:{base.sha256}"}
    if key:
        options["key"] = ",".join(key)
    return Collected(files=files, source_url=f"baseline {base.ref} ({base.name}), current {cur.ref} ({cur.name})",
                     request={"baseline": base.ref, "current": cur.ref, "key": key,
                              "thresholds": thresholds.as_text()},
                     metadata={**metadata(report), "inputs": inputs}, summary=summary(report), options=options,
                     analysis=analysis)


class Spooled:
    """The snapshots as files for the worker to read: a spooled one as it is, bytes written to a private temporary
    folder, removed on exit."""

    def __init__(self, *snapshots: Snapshot) -> None:
        in_memory = any(not isinstance(snap.data, Spool) for snap in snapshots)
        self._folder = Folder().__enter__() if in_memory else None
        self.paths: list[tuple[str, str]] = []
        try:
            for snap in snapshots:
                if isinstance(snap.data, Spool):
                    self.paths.append((snap.name, str(snap.data.path)))
                else:
                    assert self._folder is not None
                    self.paths.append((snap.name, str(self._folder.put(snap.data).path)))
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> list[tuple[str, str]]:
        return self.paths

    def __exit__(self, *exc: object) -> None:
        if self._folder is not None:
            self._folder.__exit__()


def check(base: Snapshot, cur: Snapshot, *, key: list[str], thresholds: Thresholds,
          limits: Limits = DEFAULT_LIMITS) -> Collected:
    """Read, compare and package in this process (CPU-bound; the bot itself uses `run_check`)."""
    with Spooled(base, cur) as (b, c):
        report = comparison.report(b, c, key, thresholds, limits)
    return package(report, base, cur, key=key, thresholds=thresholds, limits=limits)


def limits_of(settings: Settings) -> Limits:
    """The configured size limits of one snapshot."""
    return Limits(columns=settings.retro_datacheck_max_columns, cells=settings.retro_datacheck_max_cells)


def failure(error: WorkerError, settings: Settings) -> str:
    """What a person is told when the worker gave no report: which limit stopped it and how to raise it."""
    if error.reason == "refused":
        return error.user_message
    if error.reason == "memory":
        return (f"The data check needed more than the {settings.retro_datacheck_max_memory_mb:,} MB of memory its "
                "worker may use, and was stopped. Compare smaller snapshots, or ask the operator to raise "
                "RETRO_DATACHECK_MAX_MEMORY_MB.")
    if error.reason == "timeout":
        return (f"The data check took longer than {settings.retro_datacheck_timeout:g} s, and was stopped. Compare "
                "smaller snapshots, or ask the operator to raise RETRO_DATACHECK_TIMEOUT.")
    return f"The data check's worker process failed ({error.user_message}); nothing was compared."


async def run_check(base: Snapshot, cur: Snapshot, *, key: list[str], thresholds: Thresholds,
                    settings: Settings) -> Collected:
    """Compare in a worker process within the configured limits; a failed worker becomes a DataError."""
    spooled = await asyncio.to_thread(Spooled, base, cur)  # bytes given are written off the loop; spools are as is
    limits = limits_of(settings)
    with spooled as (b, c):
        try:
            report = await run_bounded(comparison.report, (b, c, key, thresholds, limits),
                                       memory_mb=settings.retro_datacheck_max_memory_mb,
                                       timeout=settings.retro_datacheck_timeout)
        except WorkerError as exc:
            raise DataError(failure(exc, settings)) from None
    return await asyncio.to_thread(package, report, base, cur, key=key, thresholds=thresholds,
                                   limits=limits)  # charts drawn
