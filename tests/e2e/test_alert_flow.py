"""Alert notifications through the real app: POST /alerts/alertmanager, the alert runner, the sandbox as Slack.

One group declares one incident; later notifications of the group join it as evidence and timeline entries, its
resolution is recorded, a `record` route touches nothing in Slack, owners are invited, and nothing an alert says
can ping anyone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.incident.roles import current_roles
from bot.record import chain
from sandbox import SlackEmulator
from storage.alert_tables import AlertNotice
from storage.models import Evidence, Incident, TimelineEntry
from tests.e2e.helpers import run

TOKEN = "alert-flow-token"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
PINGS = "<!channel> <!here> <@U0ALICE> <!subteam^S1|@oncall> @here @channel"


def stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else "0001-01-01T00:00:00Z"


def am_alert(fp: str, name: str = "PrecisionDrop", *, status: str = "firing", start: datetime = START,
             end: datetime | None = None, labels: dict[str, str] | None = None,
             summary: str = "precision below 0.8") -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, **(labels or {})},
            "annotations": {"summary": summary}, "startsAt": stamp(start), "endsAt": stamp(end),
            "generatorURL": "http://prometheus.example/graph?g0.expr=precision+%3C+0.8&g0.tab=1", "fingerprint": fp}


def notification(*alerts: dict[str, Any], status: str = "firing", key: str = '{}:{alertname="PrecisionDrop"}',
                 common: dict[str, str] | None = None, summary: str | None = None) -> dict[str, Any]:
    return {"version": "4", "groupKey": key, "truncatedAlerts": 0, "status": status, "receiver": "retro",
            "groupLabels": {"alertname": "PrecisionDrop"}, "commonLabels": common or {"alertname": "PrecisionDrop"},
            "commonAnnotations": {"summary": summary} if summary else {}, "externalURL": "http://am.example",
            "alerts": list(alerts)}


@pytest.fixture
async def alerting(database_url: str, tmp_path: Path) -> AsyncIterator[LocalStack]:
    """The local stack taking alerts: #ml-alerts is announced to, bob owns fraud-scorer, carol data drift,
    Watchdog is only recorded."""
    config = tmp_path / "retro.yml"

    def prepare(emu: SlackEmulator) -> None:
        emu.create_channel("ml-alerts", members=["alice"])  # the bot joins it to announce
        bob, carol = emu.workspace.user("bob").id, emu.workspace.user("carol").id
        config.write_text(yaml.safe_dump({"alerts": {
            "channel": "#ml-alerts",
            "owners": {"models": {"fraud-scorer": [bob]}, "categories": {"data-drift": [carol]}},
            "routes": [{"match": {"alertname": "Watchdog"}, "action": "record"}]}}))

    async with local_stack(database_url=database_url, prepare=prepare,
                           env={"retro_alert_token": TOKEN, "retro_config": str(config)}) as stack:
        yield stack


async def send(stack: LocalStack, body: dict[str, Any]) -> dict[str, Any]:
    """POST a notification, then let the runner finish it and Slack settle; returns the intake's answer."""
    async with aiohttp.ClientSession() as http, http.post(
            f"{stack.base_url}/alerts/alertmanager", data=json.dumps(body),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
    assert stack.alerts is not None
    await stack.alerts.sweep()
    await stack.settle()
    return answer


async def notice(stack: LocalStack, notice_id: int) -> AlertNotice:
    async with stack.deps.session() as s:
        row = await s.get(AlertNotice, notice_id)
        assert row is not None
        return row


async def incidents_of(stack: LocalStack) -> list[Incident]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Incident).order_by(col(Incident.id)))).all())


async def alert_record(stack: LocalStack, incident_id: int) -> tuple[list[Evidence], list[TimelineEntry]]:
    async with stack.deps.session() as s:
        ev = list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id, Evidence.kind == "alert")
                                .order_by(col(Evidence.number)))).all())
        entries = [e for e in await chain.entries_of(s, incident_id) if e.kind == "alert"]
    return ev, entries


async def test_a_firing_group_declares_once_then_joins_and_records_its_resolution(alerting: LocalStack) -> None:
    stack = alerting
    labels = {"severity": "critical", "model": "fraud-scorer", "model_version": "4.2", "category": "data-drift"}
    first = await send(stack, notification(am_alert("fp1", labels=labels), common={"alertname": "PrecisionDrop",
                                           **labels}, summary="Fraud scorer precision below 0.8"))
    done = await notice(stack, first["notice"])
    assert (done.status, done.outcome) == ("done", "declared")
    [incident] = await incidents_of(stack)
    assert done.incident_id == incident.id and incident.id is not None
    assert (incident.title, incident.severity, incident.category, incident.models) == (
        "Fraud scorer precision below 0.8", 1, "data-drift", ["fraud-scorer@4.2"])
    assert incident.declared_by == stack.emulator.workspace.bot_user_id
    assert incident.detected_at == START  # the alert's start, not when Retro heard of it
    async with stack.deps.session() as s:
        assert await current_roles(s, incident.id) == {}  # no commander configured: the role waits for someone
    members = set(stack.driver.channel(incident.channel_id).members)
    assert {stack.driver.user("bob").id, stack.driver.user("carol").id} <= members  # model and category owners
    announced = [m["text"] for m in stack.driver.bot_messages("#ml-alerts")]
    assert len(announced) == 1 and f"<#{incident.channel_id}>" in announced[0]
    ev, alert_entries = await alert_record(stack, incident.id)
    assert [(e.ref, e.options["fingerprint"]) for e in ev] == [("PrecisionDrop", "fp1")]
    custody = ev[0].custody
    assert custody["notice"]["payload_sha256"] == done.payload_sha256 and len(done.payload_sha256) == 64
    assert (custody["source"], custody["receiver"], custody["alert"]["labels"]["model"]) == (
        "alertmanager", "retro", "fraud-scorer")
    assert [e.text for e in alert_entries] == ["PrecisionDrop firing"]

    # The same group again, one more alert: no second incident; the new alert is evidence and an entry.
    second = await send(stack, notification(am_alert("fp1", labels=labels),
                                            am_alert("fp2", labels=labels, start=START + timedelta(minutes=3)),
                                            common={"alertname": "PrecisionDrop", **labels}))
    assert (await notice(stack, second["notice"])).outcome == "joined"
    assert len(await incidents_of(stack)) == 1
    ev, alert_entries = await alert_record(stack, incident.id)
    assert [e.options["fingerprint"] for e in ev] == ["fp1", "fp2"]
    assert [e.text for e in alert_entries] == ["PrecisionDrop firing", "PrecisionDrop firing"]
    assert [e.data["fingerprint"] for e in alert_entries] == ["fp1", "fp2"]

    # Resolved: an entry at the alert's end, said in the channel; nothing is declared.
    end = START + timedelta(minutes=15)
    resolved = await send(stack, notification(am_alert("fp1", status="resolved", end=end, labels=labels),
                                              am_alert("fp2", status="resolved", end=end, labels=labels,
                                                       start=START + timedelta(minutes=3)), status="resolved"))
    assert (await notice(stack, resolved["notice"])).outcome == "resolved"
    assert len(await incidents_of(stack)) == 1
    _, alert_entries = await alert_record(stack, incident.id)
    resolutions = [e for e in alert_entries if e.data["status"] == "resolved"]
    assert [e.text for e in resolutions] == [f"PrecisionDrop resolved at {end:%Y-%m-%dT%H:%M:%S}.000000Z"] * 2
    assert all(e.occurred_at == end for e in resolutions)
    said = "\n".join(m["text"] for m in stack.driver.bot_messages(incident.channel_id))
    assert "resolved" in said
    async with stack.deps.session() as s:
        assert (await chain.verify_incident(s, incident)).ok

    listed = (await run(stack, "alice", incident.channel_id, "timeline")).text()
    assert "alert PrecisionDrop firing" in listed and "alert PrecisionDrop resolved at" in listed
    assert "*E2* `alert` PrecisionDrop" in (await run(stack, "alice", incident.channel_id, "evidence")).text()

    # Nobody commands it yet: closing says how to take the role; anyone may take it, then the usual rules hold.
    refused = await run(stack, "dave", incident.channel_id, "status closed")
    assert "nobody holds the role yet" in refused.text()
    await run(stack, "dave", incident.channel_id, "role commander @dave")
    async with stack.deps.session() as s:
        assert (await current_roles(s, incident.id))["commander"] == stack.driver.user("dave").id


async def test_a_record_route_and_a_resolved_group_without_incident_touch_nothing_in_slack(
        alerting: LocalStack) -> None:
    stack = alerting
    before = {c.id: len(stack.driver.messages(c.id)) for c in stack.emulator.workspace.channels.values()}
    calls = stack.emulator.call_count()
    watchdog = await send(stack, notification(am_alert("w1", "Watchdog"), key='{}:{alertname="Watchdog"}',
                                              common={"alertname": "Watchdog"}))
    gone = await send(stack, notification(am_alert("x1", "DiskFull", status="resolved", end=START),
                                          key='{}:{alertname="DiskFull"}', status="resolved",
                                          common={"alertname": "DiskFull"}))
    for sent in (watchdog, gone):
        row = await notice(stack, sent["notice"])
        assert (row.status, row.outcome, row.incident_id) == ("done", "recorded", None)
    assert await incidents_of(stack) == []
    after = {c.id: len(stack.driver.messages(c.id)) for c in stack.emulator.workspace.channels.values()}
    assert after == before
    assert stack.emulator.call_count() == calls  # not one Web API call


async def test_nothing_an_alert_says_can_ping_anyone(alerting: LocalStack) -> None:
    stack = alerting
    loud = am_alert("p1", "Loud", labels={"team": PINGS}, summary=f"summary {PINGS}")
    sent = await send(stack, notification(loud, key='{}:{alertname="Loud"}', common={"alertname": "Loud"},
                                          summary=f"title {PINGS}"))
    assert (await notice(stack, sent["notice"])).outcome == "declared"
    [incident] = await incidents_of(stack)
    texts = [m["text"] for ch in (incident.channel_id, "#ml-alerts") for m in stack.driver.bot_messages(ch)]
    texts += [str(m.get("blocks")) for m in stack.driver.bot_messages(incident.channel_id)]
    assert any("title" in t for t in texts) and any("summary" in t for t in texts)
    for text in texts:
        assert "<!channel>" not in text and "<!here>" not in text and "<!subteam" not in text, text
        assert "<@U0ALICE>" not in text, text
        assert "@here" not in text.replace("@\u200bhere", ""), text
        assert "@channel" not in text.replace("@\u200bchannel", ""), text
    topic = stack.driver.channel(incident.channel_id).topic.value
    assert "title" in topic and "<!channel>" not in topic and "<!here>" not in topic


async def test_a_storm_of_500_alerts_in_one_group_is_one_incident_and_loses_none(alerting: LocalStack) -> None:
    stack = alerting
    storm = [am_alert(f"fp{n:03d}", summary=f"shard {n}") for n in range(500)]
    sent = await send(stack, notification(*storm, summary="Precision below 0.8 on every shard"))
    assert (await notice(stack, sent["notice"])).outcome == "declared"
    [incident] = await incidents_of(stack)
    assert incident.id is not None
    ev, alert_entries = await alert_record(stack, incident.id)
    assert sorted(e.options["fingerprint"] for e in ev) == [f"fp{n:03d}" for n in range(500)]
    assert len(alert_entries) == 500
    [listing] = [m["text"] for m in stack.driver.bot_messages(incident.channel_id) if "Declared from" in m["text"]]
    assert "Declared from 500 alert(s)" in listing and listing.endswith("…and 480 more (all of them are evidence)")
    # The group sent again with the same alerts (a body that differs, so intake does not drop it) adds nothing.
    again = await send(stack, notification(*storm, summary="Precision below 0.8 on every shard", common={
        "alertname": "PrecisionDrop", "repeat": "1"}))
    assert (await notice(stack, again["notice"])).outcome == "joined"
    assert [len(x) for x in await alert_record(stack, incident.id)] == [500, 500]
