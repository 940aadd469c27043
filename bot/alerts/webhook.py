"""The generic alert webhook: one alert per request, in Retro's own JSON shape or mapped from another monitor's.

The shape (only a title, or an `alertname` label, is required):

    {
      "title": "Fraud scorer precision below 0.8",   # becomes the summary annotation (and alertname if missing)
      "status": "firing",                             # or "resolved"; default firing
      "group_key": "fraud-scorer/precision",          # optional: alerts with one key make one incident
      "labels": {"alertname": "PrecisionDrop", "severity": "critical", "model": "fraud-scorer"},
      "annotations": {"description": "precision 0.71 over the last hour"},
      "starts_at": "2026-03-01T10:00:00Z",            # RFC 3339, or Unix seconds; default: not said
      "ends_at": "2026-03-01T11:00:00Z",              # optional
      "fingerprint": "a1b2c3",                        # optional: default, sha256 of the sorted labels
      "generator_url": "https://monitor.example/alerts/7"
    }

Label and annotation values may be strings, numbers or booleans (kept as text). Status words other monitors use
are understood: alerting, triggered, active, open, alert mean firing; ok, normal, closed, inactive, recovered,
resolved mean resolved. Without a `group_key` the alert's labels are its group, so each distinct alert is a group.
A `AlertWebhook` from the team YAML says where each field sits in another monitor's body (`$.path.to.field`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.alert_config import AlertWebhook
from bot.alerts.batch import (
    Alert,
    AlertBatch,
    PayloadError,
    label_fingerprint,
    load_json,
    string_map,
    text,
    timestamp,
)
from bot.canonical import canonical_json

FIRING = frozenset({"firing", "alerting", "triggered", "active", "open", "alert", "problem"})
RESOLVED = frozenset({"resolved", "ok", "normal", "closed", "inactive", "recovered"})
MAX_PATH_STEPS = 16


def parse_webhook(body: bytes, mapping: AlertWebhook | None) -> AlertBatch:
    """The alert a generic webhook posted; PayloadError says what is wrong with it."""
    data = load_json(body)
    paths = mapping or AlertWebhook()

    def field(name: str) -> tuple[Any, str]:
        path = getattr(paths, name) or name
        return lookup(data, path), path

    labels = _strings(*field("labels"))
    annotations = _strings(*field("annotations"))
    title_value, title_path = field("title")
    title = _scalar(title_value, title_path)
    if title:
        annotations.setdefault("summary", title)
        labels.setdefault("alertname", title)
    if not labels.get("alertname"):
        raise PayloadError(f"the alert has no title: `{title_path}` or `labels.alertname` is needed")
    status = _status(*field("status"))
    fingerprint = _scalar(*field("fingerprint")) or label_fingerprint(labels)
    group_key = _scalar(*field("group_key"))
    group_labels = {} if group_key else dict(labels)
    alert = Alert(
        fingerprint=fingerprint,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=_time(*field("starts_at")),
        ends_at=_time(lookup(data, "ends_at"), "ends_at"),
        generator_url=text(lookup(data, "generator_url"), "generator_url", default=""),
    )
    return AlertBatch(
        source="webhook",
        group_key=group_key or "labels:" + canonical_json(labels),
        status=status,
        receiver="webhook",
        group_labels=group_labels,
        common_labels=dict(labels),
        common_annotations=dict(annotations),
        external_url="",
        alerts=(alert,),
    )


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path (`$.a.b`, `a.0.b`: list items by index); None when any step is missing."""
    steps = path.removeprefix("$").removeprefix(".").split(".") if path not in ("$", "") else []
    if len(steps) > MAX_PATH_STEPS:
        raise PayloadError(f"the path `{path[:60]}` is too deep")
    value = data
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def _strings(value: Any, path: str) -> dict[str, str]:
    return string_map(value, path, coerce=True)


def _scalar(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"`{path}` must be a string")
    return str(value).strip()


def _status(value: Any, path: str) -> str:
    if value is None:
        return "firing"
    word = value.strip().lower() if isinstance(value, str) else None
    if word in FIRING:
        return "firing"
    if word in RESOLVED:
        return "resolved"
    raise PayloadError(f"`{path}` must say firing or resolved, not {canonical_json(value)[:40]}")


def _time(value: Any, path: str) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds since the epoch are common too
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(f"`{path}` is not a time") from None
    return timestamp(value, path)
