"""Alertmanager's webhook payload (version 4), checked field by field into an `AlertBatch`.

Alertmanager posts one notification per alert group: `receiver`, `status`, `groupKey`, `groupLabels`,
`commonLabels`, `commonAnnotations`, `externalURL`, `truncatedAlerts` and `alerts[]`, each alert with `status`,
`labels`, `annotations`, `startsAt`, `endsAt` (Go's zero time while it fires), `generatorURL` and `fingerprint`.
"""

from __future__ import annotations

from typing import Any

from bot.alerts.batch import (
    Alert,
    AlertBatch,
    PayloadError,
    alert_list,
    label_fingerprint,
    load_json,
    status_of,
    string_map,
    text,
    timestamp,
)

VERSION = "4"


def parse_alertmanager(body: bytes) -> AlertBatch:
    """The notification an Alertmanager webhook receiver posted; PayloadError says what is wrong with it."""
    data = load_json(body)
    version = data.get("version", VERSION)
    if version != VERSION:
        raise PayloadError(f"`version` {str(version)[:20]!r} is not supported; Alertmanager's webhook version 4 is")
    group_key = text(data.get("groupKey"), "groupKey")
    if not group_key:
        raise PayloadError("`groupKey` is empty")
    alerts = tuple(_alert(item, f"alerts[{i}]") for i, item in enumerate(alert_list(data.get("alerts"))))
    return AlertBatch(
        source="alertmanager",
        group_key=group_key,
        status=status_of(data.get("status"), "status"),
        receiver=text(data.get("receiver"), "receiver"),
        group_labels=string_map(data.get("groupLabels"), "groupLabels"),
        common_labels=string_map(data.get("commonLabels"), "commonLabels"),
        common_annotations=string_map(data.get("commonAnnotations"), "commonAnnotations"),
        external_url=text(data.get("externalURL"), "externalURL", default=""),
        alerts=alerts,
    )


def _alert(item: Any, where: str) -> Alert:
    if not isinstance(item, dict):
        raise PayloadError(f"`{where}` must be an object")
    labels = string_map(item.get("labels"), f"{where}.labels")
    if not labels:
        raise PayloadError(f"`{where}.labels` is missing or empty")
    starts_at = timestamp(item.get("startsAt"), f"{where}.startsAt")
    ends_at = timestamp(item.get("endsAt"), f"{where}.endsAt")
    fingerprint = text(item.get("fingerprint"), f"{where}.fingerprint", default="") or label_fingerprint(labels)
    return Alert(
        fingerprint=fingerprint,
        status=status_of(item.get("status"), f"{where}.status"),
        labels=labels,
        annotations=string_map(item.get("annotations"), f"{where}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=text(item.get("generatorURL"), f"{where}.generatorURL", default=""),
    )
