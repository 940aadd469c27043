"""Alertmanager webhook notifications (version 4) and generic webhook bodies for the alert tests."""

from __future__ import annotations

import json
from typing import Any

GROUP_KEY = '{}/{team="ml"}:{alertname="PrecisionDrop", model="fraud-scorer"}'


def am_alert(*, name: str = "PrecisionDrop", status: str = "firing", model: str = "fraud-scorer",
             fingerprint: str = "3f1c9a0b7d2e4c11", starts: str = "2026-03-02T07:58:12.345678901Z",
             ends: str = "0001-01-01T00:00:00Z", **labels: str) -> dict[str, Any]:
    """One alert as Alertmanager lists it in a notification."""
    return {
        "status": status,
        "labels": {"alertname": name, "model": model, "severity": "critical", "team": "ml", **labels},
        "annotations": {"summary": f"{model} precision below 0.8", "description": "precision 0.71 over 1h"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus.test:9090/graph?g0.expr=model_precision%7Bmodel%3D%22fraud-scorer%22%7D"
                        "+%3C+0.8&g0.tab=1",
        "fingerprint": fingerprint,
    }


def am_notification(*alerts: dict[str, Any], status: str = "firing", group_key: str = GROUP_KEY,
                    **extra: Any) -> dict[str, Any]:
    """A whole notification, as Alertmanager posts it to a webhook receiver."""
    alerts = alerts or (am_alert(status=status),)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "retro",
        "groupLabels": {"alertname": "PrecisionDrop", "model": "fraud-scorer"},
        "commonLabels": {"alertname": "PrecisionDrop", "model": "fraud-scorer", "severity": "critical",
                         "team": "ml"},
        "commonAnnotations": {"summary": "fraud-scorer precision below 0.8"},
        "externalURL": "http://alertmanager.test:9093",
        "alerts": list(alerts),
        **extra,
    }


def body(data: Any) -> bytes:
    """The bytes a sender would post."""
    return json.dumps(data).encode()
