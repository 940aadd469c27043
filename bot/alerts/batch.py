"""One alert notification, parsed: the typed batch every source turns into, and the checks every parser shares.

`AlertBatch` is one POST (Alertmanager calls it a notification: one group, some alerts). It is stored as JSON
(`as_json`, `from_json`) with the notice that recorded it, so the work after the 200 reads exactly what arrived.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.canonical import canonical_json, iso
from bot.errors import RetroError

STATUSES = ("firing", "resolved")
MAX_ALERTS = 1000
MAX_REASON = 300
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})")


class PayloadError(RetroError):
    """A notification Retro cannot read; the reason is said in the 400 answer."""

    def __init__(self, reason: str) -> None:
        reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 1] + "…"
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Alert:
    """One alert of a notification."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str

    @property
    def name(self) -> str:
        """The alert's name: its alertname label, else its fingerprint."""
        return self.labels.get("alertname") or self.fingerprint


@dataclass(frozen=True)
class AlertBatch:
    """One notification: a group of alerts as one source sent them in one request."""

    source: str
    group_key: str
    status: str
    receiver: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    alerts: tuple[Alert, ...]

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe dict (timestamps as ISO text in UTC) that `from_json` reads back into the same batch."""
        return {
            "source": self.source, "group_key": self.group_key, "status": self.status, "receiver": self.receiver,
            "group_labels": dict(self.group_labels), "common_labels": dict(self.common_labels),
            "common_annotations": dict(self.common_annotations), "external_url": self.external_url,
            "alerts": [{
                "fingerprint": a.fingerprint, "status": a.status, "labels": dict(a.labels),
                "annotations": dict(a.annotations), "starts_at": iso(a.starts_at), "ends_at": iso(a.ends_at),
                "generator_url": a.generator_url,
            } for a in self.alerts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertBatch:
        """The batch `as_json` wrote."""
        return cls(
            source=data["source"], group_key=data["group_key"], status=data["status"], receiver=data["receiver"],
            group_labels=dict(data["group_labels"]), common_labels=dict(data["common_labels"]),
            common_annotations=dict(data["common_annotations"]), external_url=data["external_url"],
            alerts=tuple(Alert(
                fingerprint=a["fingerprint"], status=a["status"], labels=dict(a["labels"]),
                annotations=dict(a["annotations"]), starts_at=_stored_time(a["starts_at"]),
                ends_at=_stored_time(a["ends_at"]), generator_url=a["generator_url"],
            ) for a in data["alerts"]),
        )

    @property
    def starts_at(self) -> datetime | None:
        """The earliest start of the batch's alerts (None when no alert says when it started)."""
        return min((a.starts_at for a in self.alerts if a.starts_at is not None), default=None)


def _stored_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_json(body: bytes) -> dict[str, Any]:
    """The JSON object a request body holds (UTF-8, no NaN or Infinity)."""
    def no_constant(name: str) -> Any:
        raise PayloadError(f"the body is not valid JSON: {name} is not allowed")

    try:
        data = json.loads(body.decode("utf-8"), parse_constant=no_constant)
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise PayloadError("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    _check_text(data)
    return data


def _check_text(value: Any) -> None:
    """Refuse strings the database cannot hold: NUL (U+0000) and lone surrogates (`\\ud800` escapes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise PayloadError("the body holds an unpaired surrogate (\\ud800-\\udfff)") from None
            if "\x00" in item:
                raise PayloadError("the body holds a NUL character (\\u0000)")


def text(value: Any, where: str, *, default: str | None = None) -> str:
    """A string field; missing (None) gives `default` when there is one."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise PayloadError(f"`{where}` must be a string" if value is not None else f"`{where}` is missing")
    return value


def string_map(value: Any, where: str, *, coerce: bool = False) -> dict[str, str]:
    """A JSON object of strings (missing: empty). `coerce` turns numbers and booleans into text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"`{where}` must be an object of strings")
    out: dict[str, str] = {}
    for key, item in value.items():
        if coerce and isinstance(item, bool):
            item = "true" if item else "false"
        elif coerce and isinstance(item, int | float):
            item = str(item)
        if not isinstance(item, str):
            raise PayloadError(f"`{where}.{key[:60]}` must be a string")
        out[key] = item
    return out


def status_of(value: Any, where: str) -> str:
    """`firing` or `resolved`."""
    if value not in STATUSES:
        raise PayloadError(f"`{where}` must be \"firing\" or \"resolved\", not {json.dumps(value)[:40]}")
    return str(value)


def timestamp(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time in UTC (fractions to the nanosecond kept to the microsecond); Go's zero time, an empty
    string or a missing value is None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"`{where}` must be an RFC 3339 time string")
    found = _RFC3339.fullmatch(value)
    if not found:
        raise PayloadError(f"`{where}` is not an RFC 3339 time: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    if year == "0001" and month == "01" and day == "01":
        return None  # Go's zero time.Time: Alertmanager's "no end yet"
    micros = int((fraction or "0").ljust(6, "0")[:6])
    try:
        offset = "+00:00" if zone in ("Z", "z") else zone
        moment = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}{offset}")
    except ValueError:
        raise PayloadError(f"`{where}` is not a valid time: {value[:40]!r}") from None
    return moment.replace(microsecond=micros).astimezone(UTC)


def label_fingerprint(labels: dict[str, str]) -> str:
    """A fingerprint for an alert that came without one: the first 16 hex of sha256 over its sorted labels."""
    return hashlib.sha256(canonical_json(labels).encode("utf-8")).hexdigest()[:16]


def alert_list(value: Any, where: str = "alerts") -> list[Any]:
    """The alerts array: a list of 1 to MAX_ALERTS items."""
    if not isinstance(value, list):
        raise PayloadError(f"`{where}` must be a list" if value is not None else f"`{where}` is missing")
    if not value:
        raise PayloadError(f"`{where}` is empty")
    if len(value) > MAX_ALERTS:
        raise PayloadError(f"`{where}` holds {len(value)} alerts; at most {MAX_ALERTS} are accepted per request")
    return value
