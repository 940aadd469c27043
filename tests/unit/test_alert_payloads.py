"""Parsing alert notifications: Alertmanager's webhook (version 4) and the generic webhook, refusals with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alert_config import AlertWebhook
from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.batch import MAX_ALERTS, AlertBatch, PayloadError, label_fingerprint, timestamp
from bot.alerts.webhook import lookup, parse_webhook
from tests.alert_payloads import GROUP_KEY, am_alert, am_notification, body

DATA = Path(__file__).resolve().parents[1] / "data"


def test_an_alertmanager_notification_becomes_a_typed_batch() -> None:
    batch = parse_alertmanager(body(am_notification()))
    assert (batch.source, batch.group_key, batch.status, batch.receiver) == ("alertmanager", GROUP_KEY, "firing",
                                                                             "retro")
    assert batch.common_annotations == {"summary": "fraud-scorer precision below 0.8"}
    assert batch.external_url == "http://alertmanager.test:9093"
    (alert,) = batch.alerts
    assert alert.fingerprint == "3f1c9a0b7d2e4c11" and alert.name == "PrecisionDrop"
    assert alert.starts_at == datetime(2026, 3, 2, 7, 58, 12, 345678, tzinfo=UTC)  # nanoseconds cut to micro
    assert alert.ends_at is None  # Go's zero time: still firing
    assert "g0.expr=" in alert.generator_url
    assert batch.starts_at == alert.starts_at


def test_what_a_real_alertmanager_sent_firing_then_resolved() -> None:
    firing = parse_alertmanager((DATA / "alertmanager-firing.json").read_bytes())
    resolved = parse_alertmanager((DATA / "alertmanager-resolved.json").read_bytes())
    assert firing.group_key == resolved.group_key == '{}:{alertname="RetroTestValueHigh"}'
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.alerts[0].fingerprint == resolved.alerts[0].fingerprint
    assert firing.alerts[0].starts_at == datetime(2026, 12, 7, 1, 11, 23, 489000, tzinfo=UTC)
    assert firing.alerts[0].ends_at is None
    ended = resolved.alerts[0].ends_at
    assert ended is not None and ended > firing.alerts[0].starts_at


def test_a_batch_survives_its_json_round_trip() -> None:
    resolved = am_alert(status="resolved", fingerprint="aa", ends="2026-03-02T09:00:00+02:00")
    batch = parse_alertmanager(body(am_notification(am_alert(), resolved)))
    again = AlertBatch.from_json(batch.as_json())
    assert again == batch
    assert again.alerts[1].ends_at == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert batch.as_json()["alerts"][1]["ends_at"] == "2026-03-02T07:00:00.000000Z"


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda d: d.pop("groupKey"), "`groupKey` is missing"),
    (lambda d: d.update(groupKey=""), "`groupKey` is empty"),
    (lambda d: d.update(status="pending"), '`status` must be "firing" or "resolved"'),
    (lambda d: d.pop("receiver"), "`receiver` is missing"),
    (lambda d: d.update(version="3"), "not supported"),
    (lambda d: d.update(alerts=[]), "`alerts` is empty"),
    (lambda d: d.update(alerts={"a": 1}), "`alerts` must be a list"),
    (lambda d: d.update(commonLabels={"severity": 1}), "`commonLabels.severity` must be a string"),
    (lambda d: d["alerts"][0].update(status="unknown"), "`alerts[0].status`"),
    (lambda d: d["alerts"][0].update(labels={}), "`alerts[0].labels` is missing or empty"),
    (lambda d: d["alerts"][0].update(startsAt="yesterday"), "`alerts[0].startsAt` is not an RFC 3339 time"),
    (lambda d: d["alerts"][0].update(startsAt="2026-02-30T10:00:00Z"), "is not a valid time"),
    (lambda d: d["alerts"][0].update(endsAt=1700000000), "`alerts[0].endsAt` must be an RFC 3339 time string"),
    (lambda d: d["alerts"].append("x"), "`alerts[1]` must be an object"),
])
def test_a_malformed_notification_is_refused_with_its_reason(mutate: Any, reason: str) -> None:
    data = am_notification()
    mutate(data)
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(body(data))
    assert reason in caught.value.reason


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"a": NaN}', "NaN is not allowed"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"receiver": "a\\u0000b"}', "NUL character"),
    (b'{"groupKey": "\\ud800"}', "unpaired surrogate"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_alertmanager(raw)


def test_a_reason_stays_short_whatever_the_body_holds() -> None:
    data = am_notification()
    data["commonLabels"] = {"k" * 5000: 1}
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(body(data))
    assert caught.value.reason.startswith("`commonLabels.kkk") and len(caught.value.reason) < 120


def test_too_many_alerts_in_one_request_are_refused() -> None:
    many = [am_alert(fingerprint=f"{i:016x}") for i in range(MAX_ALERTS + 1)]
    with pytest.raises(PayloadError, match=f"at most {MAX_ALERTS}"):
        parse_alertmanager(body(am_notification(*many)))
    assert len(parse_alertmanager(body(am_notification(*many[:MAX_ALERTS]))).alerts) == MAX_ALERTS


def test_an_alert_without_a_fingerprint_gets_one_from_its_labels() -> None:
    data = am_notification()
    del data["alerts"][0]["fingerprint"]
    alert = parse_alertmanager(body(data)).alerts[0]
    assert alert.fingerprint == label_fingerprint(alert.labels) and len(alert.fingerprint) == 16
    shuffled = dict(reversed(list(alert.labels.items())))
    assert label_fingerprint(shuffled) == alert.fingerprint


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02T07:58:12Z", datetime(2026, 3, 2, 7, 58, 12, tzinfo=UTC)),
    ("2026-03-02T07:58:12.5Z", datetime(2026, 3, 2, 7, 58, 12, 500000, tzinfo=UTC)),
    ("2026-03-02t09:58:12.000001+02:00", datetime(2026, 3, 2, 7, 58, 12, 1, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", None),
    ("", None),
])
def test_rfc3339_times(text: str, expected: datetime | None) -> None:
    assert timestamp(text, "t") == expected


def test_rfc3339_needs_a_zone() -> None:
    with pytest.raises(PayloadError, match="not an RFC 3339 time"):
        timestamp("2026-03-02T07:58:12", "startsAt")


def test_the_generic_webhook_in_its_own_shape() -> None:
    batch = parse_webhook(body({
        "title": "Churn model drift", "labels": {"model": "churn", "severity": "warning", "window": 24},
        "annotations": {"description": "PSI 0.31"}, "starts_at": "2026-03-02T06:00:00Z",
        "generator_url": "https://monitor.test/a/1"}), None)
    (alert,) = batch.alerts
    assert batch.source == "webhook" and batch.status == "firing"
    assert alert.labels == {"model": "churn", "severity": "warning", "window": "24", "alertname": "Churn model drift"}
    assert alert.annotations == {"description": "PSI 0.31", "summary": "Churn model drift"}
    assert alert.starts_at == datetime(2026, 3, 2, 6, tzinfo=UTC)
    assert alert.generator_url == "https://monitor.test/a/1"
    assert alert.fingerprint == label_fingerprint(alert.labels)
    # Without a group key the labels are the group: the same alert resolving lands in the same group.
    resolved = parse_webhook(body({"title": "Churn model drift", "status": "ok",
                                   "labels": {"model": "churn", "severity": "warning", "window": 24}}), None)
    assert resolved.status == "resolved" and resolved.group_key == batch.group_key
    other = parse_webhook(body({"title": "Churn model drift", "labels": {"model": "fraud"}}), None)
    assert other.group_key != batch.group_key


def test_the_generic_webhook_through_a_mapping() -> None:
    grafana_like = {"title": "[FIRING:1] Drift", "state": "alerting", "ruleId": 7,
                    "alert": {"tags": {"model": "fraud-scorer"}, "notes": {"runbook": "https://wiki.test/drift"},
                              "since": 1772431200}, "evalMatches": [{"metric": "psi", "value": 0.4}]}
    mapping = AlertWebhook(title="$.title", status="$.state", group_key="$.ruleId", labels="$.alert.tags",
                             annotations="alert.notes", starts_at="$.alert.since", fingerprint="$.ruleId")
    batch = parse_webhook(body(grafana_like), mapping)
    (alert,) = batch.alerts
    assert (batch.group_key, batch.status, alert.fingerprint) == ("7", "firing", "7")
    assert alert.labels == {"model": "fraud-scorer", "alertname": "[FIRING:1] Drift"}
    assert alert.annotations["runbook"] == "https://wiki.test/drift"
    assert alert.starts_at == datetime(2026, 3, 2, 6, tzinfo=UTC)
    assert lookup(grafana_like, "$.evalMatches.0.metric") == "psi"
    assert lookup(grafana_like, "evalMatches.3.metric") is None


@pytest.mark.parametrize(("data", "reason"), [
    ({"labels": {"model": "churn"}}, "has no title"),
    ({"title": "x", "status": "maybe"}, "must say firing or resolved"),
    ({"title": "x", "labels": ["a"]}, "`labels` must be an object"),
    ({"title": "x", "labels": {"a": {"b": 1}}}, "`labels.a` must be a string"),
    ({"title": {"t": 1}}, "`title` must be a string"),
    ({"title": "x", "starts_at": "soon"}, "not an RFC 3339 time"),
])
def test_a_malformed_generic_alert_is_refused(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_webhook(body(data), None)
