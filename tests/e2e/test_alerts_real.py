"""Prometheus -> Alertmanager -> Retro over HTTP -> an incident in the sandbox, its resolution, its firing again.

Everything is real but Slack: Prometheus scrapes a gauge the test moves and evaluates a threshold rule every second,
Alertmanager posts its webhook with a bearer token to Retro's `/alerts/alertmanager`, and the alert runner of the
local stack declares the incident, with the alert as evidence and the rule's expression charted from the same
Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.incident import incidents
from bot.record import chain
from sandbox import SlackEmulator
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.models import Evidence, Incident
from tests.e2e.helpers import entries, texts
from tests.e2e.servers import Gauge, alertmanager_server, prometheus_server, threshold_rule, webhook_config
from tests.processes import free_port

TOKEN = "alerts-e2e-token"
TEAM = "T0SANDBOX"
SUMMARY = "Fraud scorer latency above 5"
RULE = threshold_rule(5, alert="FraudScorerLatency", labels={"severity": "critical", "model": "fraud-scorer"},
                      annotations={"summary": SUMMARY, "description": "retro_test_value crossed 5."})


@pytest.fixture
def prom() -> Iterator[tuple[Gauge, str, int]]:
    """The gauge, Prometheus alerting to an Alertmanager port chosen now (Alertmanager starts once Retro runs)."""
    am_port = free_port()
    with Gauge() as gauge, prometheus_server(gauge.port, rules=RULE, alertmanager=f"http://127.0.0.1:{am_port}") as url:
        yield gauge, url, am_port


def team_yaml(path: Path) -> Any:
    """Write the team's YAML once the sandbox's users exist: announce in #ml-alerts, bob owns fraud-scorer."""
    def prepare(emu: SlackEmulator) -> None:
        emu.create_channel("ml-alerts", members=["alice", emu.workspace.bot_user_id])
        bob = emu.workspace.user("bob").id
        path.write_text(yaml.safe_dump({"alerts": {"channel": "#ml-alerts",
                                                   "owners": {"models": {"fraud-scorer": [bob]}}}}))
    return prepare


async def eventually(probe: Any, what: str, timeout: float = 60.0) -> Any:
    """Poll the async `probe` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await probe()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)
    return found


def am_alerts(am: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds (its v2 API)."""
    with urllib.request.urlopen(f"{am}/api/v2/alerts", timeout=5) as resp:
        return list(json.load(resp))


def utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


async def test_a_firing_rule_declares_an_incident_clearing_it_records_the_resolution_and_refiring_joins_it(
        database_url: str, prom: tuple[Gauge, str, int], tmp_path: Path) -> None:
    gauge, prom_url, am_port = prom
    config = tmp_path / "retro.yml"
    env = {"retro_alert_token": TOKEN, "prometheus_url": prom_url, "retro_config": config,
           "retro_alert_sweep_seconds": 0.5}
    async with local_stack(database_url=database_url, env=env, prepare=team_yaml(config)) as stack:
        intake = f"{stack.base_url}/alerts/alertmanager"
        with alertmanager_server(webhook_config(intake, TOKEN), port=am_port) as am:
            gauge.value = 9.0
            incident = await eventually(lambda: opened(stack), "an incident declared from the alert")
            await eventually(lambda: processed(stack, 1), "the firing notification processed")
            await stack.settle()
            (held,) = await asyncio.to_thread(am_alerts, am)
            await declared_as_expected(stack, incident, held)

            gauge.value = 1.0
            await eventually(lambda: processed(stack, 2), "the resolved notification processed")
            await stack.settle()
            await after_resolution(stack, incident, held)

            gauge.value = 9.0
            await eventually(lambda: processed(stack, 3), "the firing-again notification processed")
            await stack.settle()
        await fired_again(stack, incident, held)


async def opened(stack: LocalStack) -> Incident | None:
    async with stack.deps.session() as s:
        found = await incidents.open_incidents(s, TEAM)
    return found[0] if found and found[0].card_ts else None


async def evidence_of(stack: LocalStack, incident_id: int | None, kind: str) -> list[Evidence]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id, Evidence.kind == kind)
                                  .order_by(col(Evidence.number)))).all())


async def notices(stack: LocalStack) -> list[AlertNotice]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(AlertNotice).order_by(col(AlertNotice.id)))).all())


async def processed(stack: LocalStack, count: int) -> bool:
    """Whether `count` notices are stored and none is left pending."""
    found = await notices(stack)
    return len(found) >= count and all(n.status != "pending" for n in found)


async def declared_as_expected(stack: LocalStack, incident: Incident, held: dict[str, Any]) -> None:
    """Title, severity, model, detection time, owners, announcement, the alert and its chart as evidence."""
    started = utc(held["startsAt"])
    assert incident.title == SUMMARY and incident.severity == 1 and incident.models == ["fraud-scorer"]
    assert incident.detected_at == started and incident.declared_by == stack.emulator.workspace.bot_user_id
    channel = stack.emulator.workspace.channels[incident.channel_id]
    assert stack.emulator.workspace.user("bob").id in channel.members
    (announced,) = stack.driver.bot_messages("#ml-alerts")
    assert f"<#{incident.channel_id}>" in announced["text"] and SUMMARY in announced["text"]
    posted = texts(stack.driver.bot_messages(incident.channel_name))
    assert "Declared from 1 alert(s) sent by alertmanager through receiver `retro`" in posted
    assert f"*FraudScorerLatency* firing since <!date^{int(started.timestamp())}^" in posted, posted

    (first,) = await notices(stack)
    assert (first.status, first.outcome, first.incident_id) == ("done", "declared", incident.id), first.error
    (alert,) = await evidence_of(stack, incident.id, "alert")
    assert (alert.number, alert.ref, alert.note) == (1, "FraudScorerLatency", SUMMARY)
    assert alert.options["fingerprint"] == held["fingerprint"]
    custody = alert.custody
    assert (custody["source"], custody["receiver"]) == ("alertmanager", "retro")
    assert custody["group_key"] == '{}:{alertname="FraudScorerLatency"}'
    assert custody["notice"]["payload_sha256"] == first.payload_sha256
    kept = custody["alert"]
    assert kept["fingerprint"] == held["fingerprint"] and kept["generator_url"] == held["generatorURL"]
    assert kept["labels"]["model"] == "fraud-scorer" and kept["annotations"]["summary"] == SUMMARY
    assert utc(kept["starts_at"]) == started and kept["status"] == "firing"

    (metric,) = await evidence_of(stack, incident.id, "metric")
    assert metric.number == 2 and metric.status == "ok" and metric.ref == "retro_test_value > 5"
    assert utc(metric.options["from"]) == started - timedelta(hours=1)
    (png,) = [f for f in stack.emulator.workspace.files.values() if f.name == "E2-prometheus-range.png"]
    assert incident.channel_id in png.shares
    firing = [e for e in await entries(stack, incident.id or 0) if e.kind == "alert"]
    assert [(e.text, e.occurred_at) for e in firing] == [("FraudScorerLatency firing", started)]


async def after_resolution(stack: LocalStack, incident: Incident, held: dict[str, Any]) -> None:
    """One incident, one group, two notices processed once each; the resolution is chained, not a new incident."""
    done = await notices(stack)
    assert [(n.status, n.outcome, n.incident_id) for n in done] == [
        ("done", "declared", incident.id), ("done", "resolved", incident.id)], [n.error for n in done]
    (sent,) = done[1].batch["alerts"]
    assert sent["status"] == "resolved" and sent["fingerprint"] == held["fingerprint"]
    ended = utc(sent["ends_at"])
    assert ended > utc(held["startsAt"])
    alert_entries = [e for e in await entries(stack, incident.id or 0) if e.kind == "alert"]
    assert [e.text for e in alert_entries] == ["FraudScorerLatency firing",
                                               f"FraudScorerLatency resolved at {sent['ends_at']}"]
    resolved = alert_entries[1]
    assert resolved.occurred_at == ended and resolved.data["payload_sha256"] == done[1].payload_sha256
    posted = texts(stack.driver.bot_messages(incident.channel_name))
    assert f"*FraudScorerLatency* resolved at <!date^{int(ended.timestamp())}^" in posted, posted
    async with stack.deps.session() as s:
        (group,) = (await s.exec(select(AlertGroupRow))).all()
        assert group.incident_id == incident.id and group.status == "resolved" and not group.pending
        (only,) = (await s.exec(select(Incident))).all()
        assert only.id == incident.id and only.status == "investigating"
        assert (await chain.verify_incident(s, only)).ok
    assert len(await evidence_of(stack, incident.id, "alert")) == 1


async def fired_again(stack: LocalStack, incident: Incident, held: dict[str, Any]) -> None:
    """The same alert firing again joins the open incident: a timeline entry, no new incident, evidence or chart."""
    done = await notices(stack)
    assert [(n.status, n.outcome, n.incident_id) for n in done][2] == ("done", "joined", incident.id), done[2].error
    (again,) = done[2].batch["alerts"]
    assert again["fingerprint"] == held["fingerprint"] and utc(again["starts_at"]) > utc(held["startsAt"])
    alert_entries = [e for e in await entries(stack, incident.id or 0) if e.kind == "alert"]
    assert alert_entries[-1].text == "FraudScorerLatency firing again"
    assert alert_entries[-1].occurred_at == utc(again["starts_at"]) and len(alert_entries) == 3
    async with stack.deps.session() as s:
        assert len((await s.exec(select(Incident))).all()) == 1
    assert len(await evidence_of(stack, incident.id, "alert")) == 1
    assert len(await evidence_of(stack, incident.id, "metric")) == 1
