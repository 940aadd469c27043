"""The single parser for modal state: block_id -> plain Python value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def values_of(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten `view.state.values` to {block_id: str | int | datetime | list | None}."""
    out: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for element in actions.values():
            out[block_id] = _value(element)
    return out


def _value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind == "static_select":
        return (element.get("selected_option") or {}).get("value")
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "multi_users_select":
        return list(element.get("selected_users") or [])
    if kind == "datetimepicker":
        stamp = element.get("selected_date_time")
        return datetime.fromtimestamp(int(stamp), UTC) if stamp is not None else None
    if kind == "datepicker":
        return element.get("selected_date")
    return element.get("value")
