"""Prometheus range queries: the raw JSON answer, a CSV of every sample and a PNG chart."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from yarl import URL

from bot.canonical import iso
from bot.collectors import prom_range
from bot.collectors.base import JSON_TYPE, Artifact, Collected, CollectEnv, CollectRequest
from bot.collectors.http import redact
from bot.collectors.png import PALETTE_NAMES, line_chart
from bot.config import Settings
from bot.errors import UsageError
from bot.followup.expectations import parse_expect

MAX_POINTS = 11_000  # Prometheus refuses more points per series than this
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
TARGET_POINTS = 240
DEFAULT_SPAN = timedelta(hours=1)
METRIC_USAGE = "/retro evidence metric <PromQL, in backticks if it has spaces> [from=-2h] [to=now] [step=30s] [note…]"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_step(text: str) -> float:
    """A step like `30s`, `5m`, `1h` or plain seconds."""
    m = _DURATION.match(text.strip().lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"`step={text}` is not a duration (use 15s, 1m, 5m, 1h).", METRIC_USAGE)
    return float(m.group(1)) * _UNIT[m.group(2)]


def auto_step(span: float) -> float:
    """A round step giving about TARGET_POINTS points over the span."""
    wanted = span / TARGET_POINTS
    return float(next((s for s in NICE_STEPS if s >= wanted), math.ceil(wanted)))


def step_text(seconds: float) -> str:
    """A step as Prometheus writes durations."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _when(text: str | None, default: datetime) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else default


def time_range(options: dict[str, str], now: datetime) -> tuple[datetime, datetime, float]:
    """Start, end and step from the (already validated) evidence options; the last hour by default."""
    end = _when(options.get("to"), now)
    start = _when(options.get("from"), end - DEFAULT_SPAN)
    if start >= end:
        raise UsageError("`from` must be before `to`.", METRIC_USAGE)
    span = (end - start).total_seconds()
    step = parse_step(options["step"]) if options.get("step") else auto_step(span)
    if span / step > MAX_POINTS:
        raise UsageError(f"step {step_text(step)} over {step_text(span)} gives {int(span / step):,} points per "
                         f"series; Prometheus allows {MAX_POINTS:,}. Use a larger step.", METRIC_USAGE)
    return start, end, step


def series_name(labels: dict[str, str]) -> str:
    """A series as PromQL writes it: `name{label="value",…}`."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                    for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _num(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_csv(result: list[dict[str, Any]]) -> bytes:
    """Every sample as `series,timestamp,unix_time,value` (values exactly as Prometheus wrote them)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["series", "timestamp", "unix_time", "value"])
    for s in result:
        name = series_name(s.get("metric") or {})
        for t, v in s.get("values") or []:
            out.writerow([name, _stamp(float(t)), f"{float(t):.3f}", v])
    return buf.getvalue().encode()


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def series_summary(result: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """Per series: name, sample count, min, max and last value (as text)."""
    rows = []
    for n, s in enumerate(result[:limit]):
        vals = [_num(v) for _, v in s.get("values") or []]
        finite = [v for v in vals if math.isfinite(v)]
        rows.append({"series": series_name(s.get("metric") or {}), "samples": len(vals),
                     "min": _fmt(min(finite)) if finite else None, "max": _fmt(max(finite)) if finite else None,
                     "last": _fmt(vals[-1]) if vals else None,
                     "color": PALETTE_NAMES[n] if n < len(PALETTE_NAMES) else None})
    return rows


def chart(result: list[dict[str, Any]], start: datetime, end: datetime) -> bytes:
    """The PNG chart of the first eight series."""
    fmt = "%H:%M" if end - start <= timedelta(hours=24) else "%m-%d %H:%M"
    series = [[(float(t), _num(v)) for t, v in s.get("values") or []] for s in result[:len(PALETTE_NAMES)]]
    return line_chart(series, x_labels=(f"{start:{fmt}}", f"{end:{fmt}}"))


def legend(summary: list[dict[str, Any]], total: int) -> str:
    """Which colour is which series (and how many were left out of the chart)."""
    lines = [f"{s['color']}: {s['series']}" for s in summary if s.get("color")]
    if total > len(lines):
        lines.append(f"(charted {len(lines)} of {total} series; all are in the CSV)")
    return "\n".join(lines)


class PrometheusCollector:
    """Runs `/api/v1/query_range` against PROMETHEUS_URL."""

    name: ClassVar[str] = "prometheus"
    version: ClassVar[str] = "1.0"
    kinds: ClassVar[frozenset[str]] = frozenset({"metric"})

    def accepts(self, request: CollectRequest, settings: Settings) -> bool:
        """A PromQL expression (not a link) while PROMETHEUS_URL is set."""
        ref = request.ref.strip()
        return bool(settings.prometheus_url) and bool(ref) and not ref.startswith(("<http", "http://", "https://"))

    def describe(self, request: CollectRequest, settings: Settings) -> str:
        """What is being collected."""
        return "the range query from Prometheus"

    async def collect(self, request: CollectRequest, env: CollectEnv) -> Collected:
        """Query, then keep the raw answer, a CSV and a chart."""
        base = env.settings.prometheus_url
        assert base is not None
        start, end, step = time_range(request.options, env.now)
        label = f"Prometheus at {redact(base)}"
        params = {"query": request.ref, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
                  "step": f"{step:g}"}
        expect = request.options.get("expect")  # a mitigation check's expectation, pinned with the range
        expected = str(parse_expect(expect, METRIC_USAGE)) if expect is not None else None
        async with env.http(trusted=True) as http:
            resp = await http.get(f"{base}/api/v1/query_range", label=label, params=params)
        body, result = prom_range.matrix(resp, label)
        samples = sum(len(s.get("values") or []) for s in result)
        png = chart(result, start, end)
        files = (Artifact("prometheus-range.json", JSON_TYPE, resp.body),
                 Artifact("prometheus-range.csv", "text/csv", to_csv(result)),
                 Artifact("prometheus-range.png", "image/png", png))
        per_series = series_summary(result)
        meta = {"query": request.ref, "start": iso(start), "end": iso(end), "step": step_text(step),
                "series": len(result), "samples": samples, "warnings": [str(w) for w in body.get("warnings") or []],
                "series_summary": per_series}
        span = f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
        summary = f"{len(result)} series · {samples} samples · {span} · step {step_text(step)}"
        return Collected(files=files, source_url=redact(URL(f"{base}/graph").with_query({"g0.expr": request.ref})),
                         request={"url": f"{redact(base)}/api/v1/query_range", **params},
                         metadata=meta, summary=summary, chart=files[2], caption=legend(per_series, len(result)),
                         options={"from": iso(start) or "", "to": iso(end) or "", "step": step_text(step)},
                         analysis=prom_range.analysis_of(redact(base), params, result, expected))
