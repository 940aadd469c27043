"""What a metric check expects (`expect="< 0.05"`), durations (`window=1h`, `recheck=7d`), and the verdict over
every sample of a Prometheus range answer."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.errors import UsageError

_EXPECT = re.compile(r"^\s*(<=|>=|==|!=|<|>|=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW = timedelta(days=31)
MIN_RECHECK, MAX_RECHECK = timedelta(hours=1), timedelta(days=366)


@dataclass(frozen=True)
class Expectation:
    """A comparison every sample must satisfy, like `< 0.05`."""

    op: str
    value: float

    def holds(self, sample: float) -> bool:
        """Whether one sample satisfies it (NaN never does)."""
        return not math.isnan(sample) and _OPS[self.op](sample, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def parse_expect(text: str, usage: str) -> Expectation:
    """`< 0.05`, `>= 0.9`, `== 0`: an operator and a number."""
    m = _EXPECT.match(text)
    if m is None:
        raise UsageError(f'`expect="{text[:40]}"` is not a comparison: use an operator (<, <=, >, >=, ==, !=) and a '
                         'number, like expect="< 0.05".', usage)
    op = "==" if m.group(1) == "=" else m.group(1)
    value = float(m.group(2))
    if not math.isfinite(value):
        raise UsageError(f'`expect="{text[:40]}"` needs a finite number.', usage)
    return Expectation(op, value)


def parse_duration(text: str, *, key: str, usage: str, low: timedelta, high: timedelta) -> timedelta:
    """A duration like `30m`, `1h`, `7d` or `2w`, between `low` and `high`."""
    m = _DURATION.match(text.strip().lower())
    if m is None:
        raise UsageError(f"`{key}={text[:30]}` is not a duration (like 30m, 1h, 7d, 2w).", usage)
    value = timedelta(seconds=int(m.group(1)) * _SECONDS[m.group(2)])
    if not low <= value <= high:
        raise UsageError(f"`{key}={text[:30]}` is out of range ({spoken(low)} to {spoken(high)}).", usage)
    return value


def spoken(value: timedelta) -> str:
    """A duration the way it was typed: `7d`, `1h`, `90s`."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class MetricVerdict:
    """How a range answer measured up: pass, fail (some sample broke it) or error (no samples at all)."""

    outcome: str
    series: int
    samples: int
    failing: int
    low: float | None
    high: float | None
    last: float | None
    first_failure: str | None = None  # the series and value of the first sample that broke the expectation

    def facts(self) -> dict[str, Any]:
        """The verdict as chainable data (numbers as text, so every database hashes them alike)."""
        return {"series": self.series, "samples": self.samples, "failing": self.failing,
                "min": _num(self.low), "max": _num(self.high), "last": _num(self.last),
                "first_failure": self.first_failure}


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.6g}"


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def evaluate(answer: bytes, expectation: Expectation) -> MetricVerdict:
    """Every sample of every series of Prometheus's range answer (its raw JSON) against the expectation; `last` is the
    last sample of the first series."""
    body = json.loads(answer)
    series = ((body.get("data") or {}).get("result") or []) if isinstance(body, dict) else []
    values: list[float] = []
    failing, first, last = 0, None, None
    for n, one in enumerate(series):
        name = _name(one.get("metric") or {})
        points = [_float(v) for _, v in one.get("values") or []]
        if n == 0 and points:
            last = points[-1]
        for v in points:
            values.append(v)
            if not expectation.holds(v):
                failing += 1
                first = first or f"{name} = {v:.6g}"
    finite = [v for v in values if math.isfinite(v)]
    outcome = "error" if not values else "fail" if failing else "pass"
    return MetricVerdict(outcome, len(series), len(values), failing, min(finite) if finite else None,
                         max(finite) if finite else None, last, first)


def _name(labels: dict[str, str]) -> str:
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{rest}}}" if rest else labels.get("__name__", "") or "{}"
