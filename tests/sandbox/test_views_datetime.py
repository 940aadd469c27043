"""Datetime pickers report `selected_date_time` in Unix seconds, as Slack does."""

from __future__ import annotations

from sandbox.payloads import element_value
from sandbox.workspace import Workspace


def test_datetimepicker_reports_epoch_seconds() -> None:
    ws = Workspace(team_id="T0X", domain="x", team_name="x")
    el = {"type": "datetimepicker", "action_id": "when"}
    assert element_value(ws, el, 1767225600) == {"type": "datetimepicker", "selected_date_time": 1767225600}
    assert element_value(ws, el, "2026-01-01T00:00:00Z")["selected_date_time"] == 1767225600
    assert element_value(ws, el, None)["selected_date_time"] is None
