"""Alert handling beyond one group: a retry after a failure joins the incident it already declared, a `join` route
adds another group to an open incident, and an alert's PromQL is charted from a real Prometheus."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import col, select

from bot.alerts import claims, intake, sightings
from bot.alerts.alertmanager import parse_alertmanager
from bot.app.local import LocalStack, local_stack
from bot.slack import flows
from bot.slack.alert_flow import handle, promql_of
from storage.alert_tables import AlertGroupRow
from storage.models import Evidence, Incident, TimelineEntry
from tests.e2e.servers import Gauge, prometheus_server
from tests.e2e.test_alert_flow import TOKEN, am_alert, incidents_of, notice, notification, send
from tests.e2e.test_collectors_prometheus import scraped


def test_the_promql_of_a_generator_url() -> None:
    assert promql_of("http://prom:9090/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1") == "rate(x[5m]) > 1"
    assert promql_of("http://prom:9090/graph?g0.tab=1") is None
    assert promql_of("") is None


@pytest.fixture
async def routed(database_url: str, tmp_path: Path) -> AsyncIterator[LocalStack]:
    """Feature alerts join an open incident; the runner is off unless a test starts it."""
    config = tmp_path / "retro.yml"
    config.write_text(yaml.safe_dump({"alerts": {"routes": [{"match": {"alertname": "~Feature.*"},
                                                             "action": "join"}]}}))
    async with local_stack(database_url=database_url,
                           env={"retro_alert_token": TOKEN, "retro_config": str(config)}) as stack:
        yield stack


async def claimed(stack: LocalStack, body: dict[str, Any]) -> tuple[AlertGroupRow, Any, Any]:
    """Record a notification as intake does, claim its group as the runner does: (group, notice, batch)."""
    raw = json.dumps(body).encode()
    batch = parse_alertmanager(raw)
    async with stack.deps.session() as s:
        row, new = await intake.record(s, team_id=stack.driver.team_id, batch=batch,
                                       raw_sha256=hashlib.sha256(raw).hexdigest(), now=stack.deps.now())
        assert new
        [group] = await claims.claim_groups(s, worker="w-test", now=stack.deps.now(), lease=timedelta(minutes=5),
                                            limit=5)
    return group, row, batch


@pytest.mark.parametrize("failing", ["card", "evidence"])
async def test_a_retry_after_a_failure_joins_what_was_declared(database_url: str, failing: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async with local_stack(database_url=database_url, alerts=False) as stack:
        group, row, batch = await claimed(stack, notification(am_alert("fp1"), summary="Precision drop"))
        module, name = (flows, "post") if failing == "card" else (sightings, "record")
        real = getattr(module, name)
        calls = 0

        async def flaky(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("went away")
            return await real(*args, **kwargs)

        monkeypatch.setattr(module, name, flaky)  # the card's post in flows.declare, or keeping the evidence
        with pytest.raises(ConnectionError):
            await handle(stack.bolt.client, stack.deps, group, row, batch, worker="w-test")
        [incident] = await incidents_of(stack)
        async with stack.deps.session() as s:
            fresh = await claims.get_group(s, group.id or 0)
        assert fresh is not None and fresh.incident_id == incident.id  # linked before the failure
        again = await handle(stack.bolt.client, stack.deps, fresh, row, batch, worker="w-test")
        assert (again.outcome, again.incident_id) == ("joined", incident.id)
        assert len(await incidents_of(stack)) == 1
        async with stack.deps.session() as s:
            kept = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).all()
        assert [(e.kind, e.options["fingerprint"]) for e in kept] == [("alert", "fp1")]


async def test_a_join_route_adds_a_group_to_the_open_incident_of_its_model(routed: LocalStack) -> None:
    stack = routed
    model = {"model": "fraud-scorer"}
    first = await send(stack, notification(am_alert("fp1", labels=model), common={"alertname": "PrecisionDrop",
                                                                                    **model}))
    assert (await notice(stack, first["notice"])).outcome == "declared"
    [incident] = await incidents_of(stack)
    nulls = await send(stack, notification(am_alert("fn1", "FeatureNulls", labels=model),
                                           key='{}:{alertname="FeatureNulls"}',
                                           common={"alertname": "FeatureNulls", **model}))
    joined = await notice(stack, nulls["notice"])
    assert (joined.outcome, joined.incident_id) == ("joined", incident.id)
    async with stack.deps.session() as s:
        group = await s.get(AlertGroupRow, joined.group_id)
        assert group is not None and group.incident_id == incident.id
        texts = [e.text for e in (await s.exec(select(TimelineEntry).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "alert"))).all()]
    assert texts == ["PrecisionDrop firing", "FeatureNulls firing"]
    # Nothing open of its model or its category: only recorded.
    lag = await send(stack, notification(am_alert("fl1", "FeatureLag", labels={"category": "data-quality"}),
                                         key='{}:{alertname="FeatureLag"}',
                                         common={"alertname": "FeatureLag", "category": "data-quality"}))
    assert ((await notice(stack, lag["notice"])).outcome, len(await incidents_of(stack))) == ("recorded", 1)


@pytest.fixture(scope="module")
def prom() -> Iterator[tuple[str, Gauge]]:
    """Prometheus scraping the test's gauge every second."""
    with Gauge() as gauge, prometheus_server(gauge.port) as url:
        yield url, gauge


async def test_an_alerts_expression_is_charted_from_an_hour_before_it_started(
        database_url: str, prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    gauge.value = 7.0
    await scraped(url, 7.0)
    # The range's points are stepped from an hour before the start (whole seconds): its last point falls up to a
    # second before the notification, and must already see the gauge at 7.
    await asyncio.sleep(2)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    alert = am_alert("fp1", "GaugeHigh", start=start)
    alert["generatorURL"] = f"{url}/graph?g0.expr=retro_test_value+%3E+5&g0.tab=1"
    env = {"retro_alert_token": TOKEN, "prometheus_url": url}
    async with local_stack(database_url=database_url, env=env) as stack:
        sent = await send(stack, notification(alert, key='{}:{alertname="GaugeHigh"}',
                                              common={"alertname": "GaugeHigh"}))
        assert (await notice(stack, sent["notice"])).outcome == "declared"
        [incident] = await incidents_of(stack)
        async with stack.deps.session() as s:
            kept = list((await s.exec(select(Evidence).where(Evidence.incident_id == incident.id)
                                      .order_by(col(Evidence.number)))).all())
            charts = (await s.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                               TimelineEntry.kind == "chart_posted"))).all()
            fresh = await s.get(Incident, incident.id)
        assert [(e.kind, e.ref, e.status) for e in kept] == [("alert", "GaugeHigh", "ok"),
                                                             ("metric", "retro_test_value > 5", "ok")]
        metric = kept[1]
        assert metric.options["from"] == (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        assert metric.custody["metadata"]["series"] == 1 and metric.custody["metadata"]["samples"] > 0
        assert [c.data["evidence"] for c in charts] == [metric.number]
        uploaded = [f for f in stack.emulator.workspace.files.values() if incident.channel_id in f.shares]
        assert any(f.name.endswith("prometheus-range.png") for f in uploaded)
        assert fresh is not None and fresh.detected_at == start
