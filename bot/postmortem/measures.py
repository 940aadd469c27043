"""Incident metrics: time to detect, insight, mitigate and resolve, participants, actions by kind.

A milestone that was not recorded is reported as missing, never estimated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypedDict

from bot.postmortem.doc_types import Doc
from bot.postmortem.document import insight_at, parse_time

Milestone = Literal["impact_started_at", "detected_at", "insight_at", "mitigated_at", "resolved_at", "closed_at"]
MILESTONES: dict[Milestone, str] = {
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
    start: Milestone
    end: Milestone


SPANS: tuple[SpanSpec, ...] = (
    SpanSpec("detect", "Time to detect", "impact_started_at", "detected_at"),
    SpanSpec("insight", "Time to insight", "detected_at", "insight_at"),
    SpanSpec("mitigate", "Time to mitigate", "detected_at", "mitigated_at"),
    SpanSpec("resolve", "Time to resolve", "detected_at", "resolved_at"),
    SpanSpec("impact", "Impact duration", "impact_started_at", "mitigated_at"),
)


class MilestoneAt(TypedDict):
    """A milestone and when it was recorded (None when it was not)."""

    key: Milestone
    label: str
    at: str | None


# `from` is a keyword, so this one is spelled as a call.
Span = TypedDict("Span", {"key": str, "label": str, "from": str, "to": str, "seconds": int | None,
                          "missing": str | None})
Span.__doc__ = """A span's length in seconds, or why it is missing (`from` and `to` name its milestones)."""


class Count(TypedDict):
    """How many of one kind, status or verdict."""

    name: str
    count: int


class Metrics(TypedDict):
    """Every per-incident metric, JSON-safe (seconds as ints, times as ISO text)."""

    milestones: list[MilestoneAt]
    spans: list[Span]
    participants: list[str]
    participant_count: int
    actions_by_kind: list[Count]
    actions_by_status: list[Count]
    hypotheses_by_verdict: list[Count]
    evidence_count: int
    entry_count: int
    message_count: int


def span_seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from start to end; None when either is missing or the end precedes the start."""
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds())


def span_status(spec: SpanSpec, times: Mapping[Milestone, datetime | None]) -> tuple[int | None, str | None]:
    """The span's length, or why it cannot be given (which milestone is missing, or an inconsistency)."""
    start, end = times.get(spec.start), times.get(spec.end)
    missing = [MILESTONES[k] for k, v in ((spec.start, start), (spec.end, end)) if v is None]
    if missing:
        return None, "no " + " and no ".join(missing) + " recorded"
    seconds = span_seconds(start, end)
    if seconds is None:
        return None, f"{MILESTONES[spec.end]} is recorded before {MILESTONES[spec.start]}"
    return seconds, None


def milestone_texts(doc: Doc) -> dict[Milestone, str | None]:
    """The incident's milestones as recorded (insight from the first confirmed hypothesis when not set)."""
    inc = doc["incident"]
    return {key: insight_at(doc) if key == "insight_at" else inc[key] for key in MILESTONES}


def milestone_times(doc: Doc) -> dict[Milestone, datetime | None]:
    """The incident's milestones as datetimes (insight from the first confirmed hypothesis when not set)."""
    return {key: parse_time(at) for key, at in milestone_texts(doc).items()}


def participants(doc: Doc) -> list[str]:
    """People who acted in the incident or held a role (the bot's own posts excluded)."""
    found = {e["actor"] for e in doc["entries"] if e["actor"] and e["kind"] != "bot_message"}
    found.update(r["user_id"] for r in doc["roles"])
    return sorted(found)


def _counts(values: Sequence[str]) -> list[Count]:
    return [{"name": name, "count": n} for name, n in sorted(Counter(values).items())]


def incident_metrics(doc: Doc) -> Metrics:
    """Every per-incident metric, JSON-safe (seconds as ints, times as ISO text)."""
    times = milestone_times(doc)
    spans: list[Span] = []
    for spec in SPANS:
        seconds, missing = span_status(spec, times)
        spans.append({"key": spec.key, "label": spec.label, "from": MILESTONES[spec.start],
                      "to": MILESTONES[spec.end], "seconds": seconds, "missing": missing})
    people = participants(doc)
    entries = doc["entries"]
    return {
        "milestones": [{"key": key, "label": MILESTONES[key], "at": at} for key, at in milestone_texts(doc).items()],
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
