"""A Prometheus range answer checked and normalised, and the analysis record that pins it: the query, window and step
exactly as sent, and the digest of the matrix written the same way on every platform."""

from __future__ import annotations

import json
from typing import Any

from bot.collectors.http import Response
from bot.errors import CollectorError
from bot.insights import analyses

QUERY_PARAMS = ("query", "start", "end", "step")


def matrix(resp: Response, label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The answer's JSON object and its series, or a clear error when Prometheus refused or answered no range."""
    body = resp.json(label)
    if not isinstance(body, dict):
        raise CollectorError(f"{label} answered something other than a JSON object.")
    if resp.status != 200 or body.get("status") != "success":
        raise CollectorError(f"{label} answered {resp.status} for the query: "
                             f"{body.get('errorType', 'error')}: {body.get('error', resp.excerpt(150))}")
    data = body.get("data") or {}
    result = data.get("result") or []
    if data.get("resultType") != "matrix" or not isinstance(result, list):
        raise CollectorError(f"{label} answered a {data.get('resultType')} instead of a range (matrix).")
    return body, result


def _text(value: Any) -> Any:
    """Numbers as text, containers walked (histogram buckets hold numbers and strings)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return str(value)


def _time(value: Any) -> str:
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return str(value)


def _key(series: dict[str, Any]) -> str:
    return json.dumps(series["metric"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalised(result: list[Any]) -> list[dict[str, Any]]:
    """The matrix as `{"metric": labels, "values": [[time "%.3f", value text], …]}` per series (plus `histograms`
    when Prometheus sent native ones), series sorted by their labels' canonical JSON."""
    out = []
    for one in result:
        if not isinstance(one, dict):
            continue
        labels = one.get("metric") or {}
        series: dict[str, Any] = {
            "metric": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
            "values": [[_time(p[0]), str(p[1])] for p in one.get("values") or [] if isinstance(p, list | tuple)
                       and len(p) == 2]}
        if one.get("histograms"):
            series["histograms"] = [[_time(p[0]), _text(p[1])] for p in one["histograms"]
                                    if isinstance(p, list | tuple) and len(p) == 2]
        out.append(series)
    return sorted(out, key=_key)


def analysis_of(source: str, params: dict[str, str], result: list[Any], expect: str | None = None
                ) -> dict[str, Any]:
    """The pinned record of one range query: the (redacted) source, the parameters as sent, the expectation a
    mitigation check judged it by (if any), and the digest of the normalised matrix."""
    pinned: dict[str, Any] = {k: params[k] for k in QUERY_PARAMS}
    if expect is not None:
        pinned["expect"] = expect
    return analyses.record(analyses.PROMETHEUS, inputs={"source": source}, params=pinned,
                           output=normalised(result))
