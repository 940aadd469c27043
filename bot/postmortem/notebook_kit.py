"""What the cells of an exported incident notebook (incident.ipynb) call, so that each cell stays one readable line.

Everything runs offline from the bundle folder (the notebook's first cell verifies its digests): data checks are
computed again from the kept snapshots (`inputs/<sha256>`) and Prometheus ranges are drawn again from their kept
answers (`evidence/E<n>/…`). Charts are Retro's own deterministic PNGs, so every run shows the same bytes. IPython
is only imported when something is displayed, so the functions also work from a plain Python prompt.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.canonical import sha256_hex
from bot.collectors import drift_chart, prom_range, prometheus
from bot.config import Settings
from bot.insights import rerun
from bot.insights.analyses import DATACHECK, PROMETHEUS, Analysis, output_digest
from bot.postmortem import escaping, export
from bot.postmortem.doc_types import Doc, EvidenceRecord
from bot.postmortem.notebook import to_fetch

HERE = Path(".")
RANGE_JSON = "prometheus-range.json"
RANGE_PNG = "prometheus-range.png"
TABLE_FIGURES = ("psi", "ks", "ks_pvalue", "wasserstein", "js_distance", "chi2_pvalue")


def _show_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))  # type: ignore[no-untyped-call]


def _show_png(data: bytes) -> None:
    from IPython.display import Image, display

    display(Image(data=data, format="png"))  # type: ignore[no-untyped-call]


def _item(doc: Doc, number: int) -> EvidenceRecord:
    found = [e for e in doc["evidence"] if e["number"] == number]
    if not found:
        raise LookupError(f"the bundle has no evidence E{number}")
    return found[0]


def analysis_of(doc: Doc, number: int) -> Analysis | None:
    """The analysis evidence E<number> records, if any."""
    return Analysis.of(number, _item(doc, number)["custody"])


def _sync(coro: Any) -> Any:
    """Run a coroutine to its end from code that may already sit inside an event loop (a notebook kernel's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _cell(value: Any) -> str:
    return "—" if value is None else escaping.plain(str(value))


def feature_table(report: dict[str, Any]) -> str:
    """The features of a data check report as a Markdown table (column names and values escaped)."""
    head = ["Feature", "Type", "Null rate (base → cur)", *(k.replace("_", " ") for k in TABLE_FIGURES), "Flags"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in report.get("features") or []:
        nulls = f"{_cell(f.get('null_rate_baseline'))} → {_cell(f.get('null_rate_current'))}"
        figures = [_cell(f.get(k)) for k in TABLE_FIGURES]
        flags = ", ".join(escaping.plain(str(x)) for x in f.get("flags") or []) or "ok"
        lines.append("| " + " | ".join([escaping.code(str(f.get("column", ""))) or "—", _cell(f.get("type")), nulls,
                                        *figures, flags]) + " |")
    return "\n".join(lines)


def datacheck_line(result: rerun.Rerun) -> str:
    """`E5 datacheck: reproduced (sha256 …)`: the outcome of a data check run again, on one line."""
    digest = f" (sha256 {result.new_sha256})" if result.new_sha256 else ""
    return f"E{result.number} datacheck: {result.outcome}{digest}"


def rerun_datacheck(number: int, folder: Path = HERE, show: bool = True) -> rerun.Rerun:
    """Compute data check E<number> again from the bundle's kept snapshots, with its recorded parameters; print the
    outcome (and what moved) and show its feature table and charts."""
    doc, sources = export.open_bundle(folder)
    a = analysis_of(doc, number)
    if a is None or a.kind != DATACHECK:
        raise LookupError(f"E{number} records no data check")
    result: rerun.Rerun = _sync(rerun.datacheck(a, sources, Settings()))
    print(datacheck_line(result))
    if result.recorded_sha256 != result.new_sha256:
        print(f"  recorded sha256 {result.recorded_sha256}")
    for line in result.detail:
        print(f"  {line}")
    if show and isinstance(result.output, dict):
        _show_markdown(feature_table(result.output))
        for art in drift_chart.charts(result.output):
            _show_png(art.data)
    return result


def _epoch(text: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _iso(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def time_span(item: EvidenceRecord, a: Analysis | None) -> tuple[datetime, datetime]:
    """The range a metric was asked over: the analysis's parameters, else the evidence's from/to options."""
    params = a.params if a is not None else {}
    start = _epoch(params.get("start")) or _iso(item["options"].get("from"))
    end = _epoch(params.get("end")) or _iso(item["options"].get("to"))
    if start is None or end is None:
        raise LookupError(f"E{item['number']} does not say which range it covers")
    return start, end


def plot_metric(number: int, folder: Path = HERE, show: bool = True) -> bytes:
    """Draw Prometheus range E<number> again from its kept answer with Retro's own chart; print its series and
    sample counts (and the digest of the normalised series when an analysis records one); return the PNG."""
    doc, sources = export.open_bundle(folder)
    item = _item(doc, number)
    body = rerun.json_member(sources.artifact(number), RANGE_JSON)
    result = ((body or {}).get("data") or {}).get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        raise LookupError(f"E{number}: the bundle holds no Prometheus range answer for it")
    a = analysis_of(doc, number)
    start, end = time_span(item, a)
    png = prometheus.chart(result, start, end)
    samples = sum(len(s.get("values") or []) for s in result)
    pinned = a is not None and a.kind == PROMETHEUS
    digest = f", sha256 {output_digest(prom_range.normalised(result))}" if pinned else ""
    print(f"E{number} metric: {len(result)} series, {samples} samples{digest}")
    kept = rerun.member(sources.artifact(number), RANGE_PNG)
    if kept is not None:
        same = "the same bytes as" if kept == png else "different from"
        print(f"E{number} chart: {same} the chart kept with the evidence (sha256 {sha256_hex(png)})")
    if show:
        _show_png(png)
        print(prometheus.legend(prometheus.series_summary(result), len(result)))
    return png


def print_to_fetch(folder: Path = HERE) -> None:
    """Print what to fetch to reproduce the model, one line each."""
    doc, _ = export.open_bundle(folder)
    listed = to_fetch(doc)
    for label, values in listed.items():
        for value in values:
            print(f"{label}: {value}")
    if not listed:
        print("The evidence names no model version, snapshot, flag, deploy or commit.")
