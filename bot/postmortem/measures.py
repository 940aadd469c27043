"""Incident metrics: time to detect, insight, mitigate and resolve, participants, actions by kind.

A milestone that was not recorded is reported as missing, never estimated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.postmortem.document import Doc, insight_at, parse_time

MILESTONES: dict[str, str] = {
    "impact_started_at": "impact start",
    "detected_at": "detection",
    "insight_at": "first confirmed hypothesis",
    "mitigated_at": "mitigation",
    "resolved_at": "resolution",
    "closed_at": "closure",
}


@dataclass(frozen=True)
class SpanSpec:
    """A named duration between two milestones."""

    key: str
    label: str
    start: str
    end: str


SPANS: tuple[SpanSpec, ...] = (
    SpanSpec("detect", "Time to detect", "impact_started_at", "detected_at"),
    SpanSpec("insight", "Time to insight", "detected_at", "insight_at"),
    SpanSpec("mitigate", "Time to mitigate", "detected_at", "mitigated_at"),
    SpanSpec("resolve", "Time to resolve", "detected_at", "resolved_at"),
    SpanSpec("impact", "Impact duration", "impact_started_at", "mitigated_at"),
)


def span_seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from start to end; None when either is missing or the end precedes the start."""
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds())


def span_status(spec: SpanSpec, times: Mapping[str, datetime | None]) -> tuple[int | None, str | None]:
    """The span's length, or why it cannot be given (which milestone is missing, or an inconsistency)."""
    start, end = times.get(spec.start), times.get(spec.end)
    missing = [MILESTONES[k] for k, v in ((spec.start, start), (spec.end, end)) if v is None]
    if missing:
        return None, "no " + " and no ".join(missing) + " recorded"
    seconds = span_seconds(start, end)
    if seconds is None:
        return None, f"{MILESTONES[spec.end]} is recorded before {MILESTONES[spec.start]}"
    return seconds, None


def milestone_times(doc: Doc) -> dict[str, datetime | None]:
    """The incident's milestones as datetimes (insight from the first confirmed hypothesis when not set)."""
    inc = doc["incident"]
    times = {key: parse_time(inc.get(key)) for key in MILESTONES if key != "insight_at"}
    times["insight_at"] = parse_time(insight_at(doc))
    return times


def participants(doc: Doc) -> list[str]:
    """People who acted in the incident or held a role (the bot's own posts excluded)."""
    found = {e["actor"] for e in doc["entries"] if e["actor"] and e["kind"] != "bot_message"}
    found.update(r["user_id"] for r in doc["roles"])
    return sorted(found)


def _counts(values: Sequence[str]) -> list[dict[str, Any]]:
    return [{"name": name, "count": n} for name, n in sorted(Counter(values).items())]


def incident_metrics(doc: Doc) -> dict[str, Any]:
    """Every per-incident metric, JSON-safe (seconds as ints, times as ISO text)."""
    times = milestone_times(doc)
    spans = []
    for spec in SPANS:
        seconds, missing = span_status(spec, times)
        spans.append({"key": spec.key, "label": spec.label, "from": MILESTONES[spec.start],
                      "to": MILESTONES[spec.end], "seconds": seconds, "missing": missing})
    people = participants(doc)
    entries = doc["entries"]
    return {
        "milestones": [{"key": key, "label": label, "at": doc["incident"].get(key) if key != "insight_at"
                        else insight_at(doc)} for key, label in MILESTONES.items()],
        "spans": spans,
        "participants": people,
        "participant_count": len(people),
        "actions_by_kind": _counts([a["kind"] for a in doc["actions"]]),
        "actions_by_status": _counts([a["status"] for a in doc["actions"]]),
        "hypotheses_by_verdict": _counts([h["verdict"] for h in doc["hypotheses"]]),
        "evidence_count": len(doc["evidence"]),
        "entry_count": len(entries),
        "message_count": sum(1 for e in entries if e["kind"] == "message"),
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def humanise(seconds: float | None) -> str:
    """A duration for people: `45s`, `12m`, `3h 05m`, `2d 4h`; an em dash when unknown."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if hours == 0:
        return f"{minutes}m"
    if days == 0:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24}h"
