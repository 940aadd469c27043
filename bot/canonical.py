"""Canonical JSON and digests: the byte-exact form everything is hashed in."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in canonical JSON")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"not canonicalisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 text, UTC timestamps with microseconds."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def sha256_hex(data: bytes | str) -> str:
    """Hex SHA-256 of bytes or UTF-8 text."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """The link of the hash chain: sha256(prev_hash + canonical JSON of the entry)."""
    return sha256_hex(prev_hash + canonical_json(payload))


def iso(value: datetime | None) -> str | None:
    """The canonical text of an aware datetime."""
    return None if value is None else _default(value)
