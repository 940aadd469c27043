"""The examples of docs/alerts.md do what the page says: the team YAML loads, the generic shape and the Grafana
mapping parse, the Python example compiles, and Alertmanager's own checker accepts the receiver configuration."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.alert_config import AlertWebhook
from bot.alerts.routing import decide
from bot.alerts.webhook import parse_webhook
from bot.catalog import load_catalog

PAGE = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


def blocks(lang: str) -> list[str]:
    """The page's fenced code blocks in `lang`."""
    return [body for kind, body in re.findall(r"```(\w+)\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
            if kind == lang]


def team_yaml(tmp_path: Path, marker: str) -> Path:
    (body,) = [b for b in blocks("yaml") if b.startswith("alerts:") and marker in b]
    path = tmp_path / "retro.yml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_routing_example_loads_and_routes_as_described(tmp_path: Path) -> None:
    catalog = load_catalog(team_yaml(tmp_path, "routes:"))
    config = catalog.alerts
    assert config.channel == "#ml-alerts" and config.commander == "U0123ABC"
    assert [r.action for r in config.routes] == ["record", "declare", "join"]
    (generic,) = blocks("json")
    batch = parse_webhook(json.dumps({**json.loads(generic), "labels": {"alertname": "Watchdog"}}).encode(), None)
    assert decide(batch, config, catalog).action == "record"
    ml = parse_webhook(json.dumps({"title": "p99 up", "labels": {"team": "ml", "severity": "High"}}).encode(), None)
    ruled = decide(ml, config, catalog)
    assert (ruled.action, ruled.category, ruled.severity) == ("declare", "model-regression", 2)


def test_the_generic_shape_parses_as_documented() -> None:
    (generic,) = blocks("json")
    batch = parse_webhook(generic.encode(), None)
    (alert,) = batch.alerts
    assert batch.source == "webhook" and batch.group_key == "fraud-scorer/precision" and batch.status == "firing"
    assert alert.annotations["summary"] == "Fraud scorer precision below 0.8"
    assert alert.labels["model_version"] == "7" and alert.fingerprint == "a1b2c3"
    assert alert.starts_at is not None and alert.starts_at.isoformat() == "2026-03-01T10:00:00+00:00"


def test_the_grafana_mapping_reads_grafanas_webhook(tmp_path: Path) -> None:
    mapping = load_catalog(team_yaml(tmp_path, "commonAnnotations")).alerts.webhook
    assert mapping is not None
    # Grafana's webhook contact point body (its documented example, trimmed): Alertmanager's fields, version "1".
    body = {"receiver": "retro", "status": "firing", "orgId": 1, "version": "1", "state": "alerting",
            "title": "[FIRING:1] HighLatency", "groupKey": '{}:{alertname="HighLatency"}',
            "groupLabels": {"alertname": "HighLatency"},
            "commonLabels": {"alertname": "HighLatency", "model": "fraud-scorer", "severity": "critical"},
            "commonAnnotations": {"summary": "p99 latency above 2 s"},
            "alerts": [{"status": "firing", "labels": {"alertname": "HighLatency"}, "annotations": {},
                        "startsAt": "2026-03-01T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": "c6eadffa33fcdf37", "generatorURL": "", "values": {"B": 2.4}}]}
    paths = AlertWebhook(**mapping.model_dump())
    batch = parse_webhook(json.dumps(body).encode(), paths)
    (alert,) = batch.alerts
    assert batch.group_key == '{}:{alertname="HighLatency"}' and batch.status == "firing"
    assert alert.labels["model"] == "fraud-scorer" and alert.annotations["summary"] == "p99 latency above 2 s"
    assert alert.fingerprint == "c6eadffa33fcdf37"
    assert alert.starts_at is not None and alert.starts_at.isoformat() == "2026-03-01T07:51:03.157076+00:00"
    resolved = parse_webhook(json.dumps({**body, "status": "resolved"}).encode(), paths)
    assert resolved.status == "resolved" and resolved.group_key == batch.group_key


def test_the_python_example_compiles() -> None:
    (example,) = blocks("python")
    compile(example, "docs/alerts.md", "exec")


def test_alertmanager_accepts_the_receiver_configuration(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        reason = "amtool (Debian's prometheus-alertmanager) is not installed: `make test-servers`"
        if os.environ.get("RETRO_TEST_REQUIRE_SERVERS") == "1":
            pytest.fail(f"{reason} (RETRO_TEST_REQUIRE_SERVERS=1)")
        pytest.skip(reason)
    (config,) = [b for b in blocks("yaml") if "receivers:" in b]
    assert "/alerts/alertmanager" in config and "type: Bearer" in config and "send_resolved: true" in config
    path = tmp_path / "alertmanager.yml"
    path.write_text(config, encoding="utf-8")
    done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
