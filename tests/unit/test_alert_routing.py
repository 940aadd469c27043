"""The `alerts:` configuration and routing: matchers, first match wins, defaults, resolved never declares."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.alert_config import AlertsConfig
from bot.alerts.batch import Alert, AlertBatch
from bot.alerts.routing import decide
from bot.alerts.sightings import AGAIN, FIRING, RESOLVED, change_of, entry_text, evidence_item
from bot.catalog import Catalog, load_catalog
from bot.errors import ConfigError

T0 = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
T1 = datetime(2026, 3, 12, 13, 40, tzinfo=UTC)


def alert(fp: str = "a1", *, status: str = "firing", labels: dict[str, str] | None = None,
          annotations: dict[str, str] | None = None, starts: datetime | None = T0,
          ends: datetime | None = None) -> Alert:
    return Alert(fp, status, labels if labels is not None else {"alertname": "PrecisionDrop"},
                 annotations or {}, starts, ends, "")


def batch(*alerts: Alert, status: str = "firing", common: dict[str, str] | None = None,
          annotations: dict[str, str] | None = None) -> AlertBatch:
    return AlertBatch("alertmanager", '{}:{alertname="PrecisionDrop"}', status, "retro", {},
                      common if common is not None else {}, annotations or {}, "", alerts or (alert(),))


def catalog_with(tmp_path: Path, alerts: dict[str, Any]) -> Catalog:
    path = tmp_path / "retro.yml"
    path.write_text(yaml.safe_dump({"alerts": alerts}))
    return load_catalog(path)


def test_shipped_defaults_declare_with_the_usual_mapping() -> None:
    catalog = load_catalog()
    cfg = catalog.alerts
    assert (cfg.routes, cfg.default_action, cfg.channel, cfg.commander) == ([], "declare", None, None)
    assert cfg.severities == {"critical": 1, "warning": 3}
    d = decide(batch(common={"alertname": "PrecisionDrop", "severity": "critical"}), cfg, catalog)
    assert (d.action, d.title, d.severity, d.category, d.models, d.invite, d.announce) == (
        "declare", "PrecisionDrop", 1, "model-regression", (), (), None)
    warning = decide(batch(common={"severity": "WARNING"}), cfg, catalog)
    assert warning.severity == 3
    unknown = decide(batch(common={"severity": "page-me"}), cfg, catalog)
    assert unknown.severity == 3  # what `/retro start` gives without sev=


def test_title_prefers_common_summary_then_an_alerts_then_the_name() -> None:
    catalog = load_catalog()
    cfg = catalog.alerts
    b = batch(alert(annotations={"summary": "first alert's words"}),
              annotations={"summary": "  the  group's\nsummary "})
    assert decide(b, cfg, catalog).title == "the group's summary"
    assert decide(batch(alert(annotations={"summary": "first alert's words"})), cfg, catalog).title == \
        "first alert's words"
    assert decide(batch(alert(labels={"alertname": "FeatureNulls"})), cfg, catalog).title == "FeatureNulls"
    long = decide(batch(annotations={"summary": "x" * 400}), cfg, catalog).title
    assert len(long) == 150 and long.endswith("…")


def test_category_models_and_owners_come_from_labels(tmp_path: Path) -> None:
    catalog = catalog_with(tmp_path, {"owners": {"models": {"fraud-scorer": ["U0CAROL", "U0DAVE"]},
                                                 "categories": {"data-drift": ["U0DAVE", "U0ERIN"]}},
                                      "channel": "#ml-alerts"})
    common = {"alertname": "Drift", "category": "data-drift", "model": "fraud-scorer", "model_version": "4.2"}
    d = decide(batch(common=common), catalog.alerts, catalog)
    assert (d.category, d.models, d.invite, d.announce) == (
        "data-drift", ("fraud-scorer@4.2",), ("U0CAROL", "U0DAVE", "U0ERIN"), "#ml-alerts")
    # an unknown category falls back; a model label that is not a reference is left out; per-alert models count
    odd = batch(alert("a", labels={"model": "churn", "category": "nope"}), alert("b", labels={"model": "bad name!"}),
                alert("c", labels={"model": "churn"}))
    d = decide(odd, catalog.alerts, catalog)
    assert (d.category, d.models, d.invite) == ("model-regression", ("churn",), ())


def test_first_matching_route_wins_exact_and_regex(tmp_path: Path) -> None:
    catalog = catalog_with(tmp_path, {"routes": [
        {"match": {"alertname": "Watchdog"}, "action": "record"},
        {"match": {"team": "ml", "severity": "~critical|high"}, "action": "declare", "category": "data-quality",
         "severity": 2},
        {"match": {"team": "~ml.*"}, "action": "join"},
    ], "default_action": "record"})
    cfg = catalog.alerts

    def action(labels: dict[str, str]) -> tuple[str, str, int, int | None]:
        d = decide(batch(common=labels), cfg, catalog)
        return d.action, d.category, d.severity, d.route

    assert action({"alertname": "Watchdog", "team": "ml", "severity": "critical"})[0] == "record"
    assert action({"team": "ml", "severity": "critical"}) == ("declare", "data-quality", 2, 1)
    assert action({"team": "ml", "severity": "high"})[0] == "declare"
    assert action({"team": "ml", "severity": "critical-ish"})[0] == "join"  # a regex matches the whole value
    assert action({"team": "ml-platform"})[0] == "join"
    assert action({"team": "ops", "severity": "critical"}) == ("record", "model-regression", 1, None)


def test_resolved_never_declares(tmp_path: Path) -> None:
    catalog = load_catalog()
    d = decide(batch(alert(status="resolved", ends=T1), status="resolved"), catalog.alerts, catalog)
    assert d.action == "join"  # told to the group's incident if it has one, else only recorded
    recorded = catalog_with(tmp_path, {"routes": [{"match": {}, "action": "record"}]})
    assert decide(batch(status="resolved"), recorded.alerts, recorded).action == "record"


@pytest.mark.parametrize(("alerts", "message"), [
    ({"routes": [{"action": "page"}]}, "alerts.routes.0.action: Input should be 'declare', 'join' or 'record'"),
    ({"routes": [{"match": {"team": "~(ml"}}]}, "alerts.routes.0.match: team: '~(ml' is not a valid regular"),
    ({"routes": [{"category": "drfit"}]}, "alerts.routes.0.category: unknown category 'drfit'"),
    ({"routes": [{"severity": 7}]}, "alerts.routes.0.severity: no severity 7 in severities"),
    ({"severities": {"critical": 0}}, "alerts.severities.critical: no severity 0 in severities"),
    ({"default_severity": 5}, "alerts.default_severity: no severity 5 in severities"),
    ({"owners": {"categories": {"drift": ["U0DAVE"]}}}, "alerts.owners.categories.drift: unknown category 'drift'"),
    ({"owners": {"models": {"churn": ["@dave"]}}}, "alerts.owners.models: churn: '@dave' is not a Slack user id"),
    ({"commander": "dave"}, "alerts.commander: 'dave' is not a Slack user id"),
    ({"chanel": "#ml-alerts"}, "alerts.chanel: Extra inputs are not permitted"),
    ({"webhook": {"titel": "$.title"}}, "alerts.webhook.titel: Extra inputs are not permitted"),
])
def test_bad_alert_config_is_one_clear_line(tmp_path: Path, alerts: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        catalog_with(tmp_path, alerts)
    assert str(err.value).startswith(f"RETRO_CONFIG: {message}"), str(err.value)
    assert "\n" not in str(err.value)


def test_webhook_mapping_takes_the_documented_fields(tmp_path: Path) -> None:
    catalog = catalog_with(tmp_path, {"webhook": {"title": "$.monitor.name", "labels": "tags"}})
    assert catalog.alerts.webhook is not None
    assert catalog.alerts.webhook.model_dump() == {"title": "$.monitor.name", "status": None, "group_key": None,
                                                   "labels": "tags", "annotations": None, "starts_at": None,
                                                   "fingerprint": None}
    assert AlertsConfig().webhook is None


def test_alert_state_changes() -> None:
    firing = alert()
    assert change_of(firing, None) == FIRING
    assert change_of(firing, {"status": "firing", "starts_at": "2026-03-12T13:05:00.000000Z"}) is None
    assert change_of(firing, {"status": "firing", "starts_at": "2026-03-12T12:00:00.000000Z"}) == AGAIN
    assert change_of(firing, {"status": "resolved", "starts_at": "2026-03-12T13:05:00.000000Z"}) == AGAIN
    done = alert(status="resolved", ends=T1)
    assert change_of(done, {"status": "firing"}) == RESOLVED
    assert change_of(done, {"status": "resolved"}) is None
    assert change_of(done, None) == RESOLVED
    assert entry_text(done, RESOLVED) == "PrecisionDrop resolved at 2026-03-12T13:40:00.000000Z"


def test_an_alert_as_evidence() -> None:
    item = evidence_item(alert(labels={"alertname": "Drift", "model": "fraud", "model_version": "4.2"},
                               annotations={"summary": "PSI 0.4"}))
    assert (item.kind, item.ref, item.note, item.at) == ("alert", "Drift", "PSI 0.4", T0)
    assert item.options == {"fingerprint": "a1", "status": "firing", "model": "fraud@4.2"}
