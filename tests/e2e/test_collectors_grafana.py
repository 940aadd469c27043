"""Grafana dashboard links through Slack: the page and the dashboard's JSON model (its version) kept as evidence."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile

import pytest

from bot.app.local import local_stack
from storage.models import Evidence
from tests.e2e.helpers import declare, entries, run
from tests.e2e.test_collectors_url import only_item, settled
from tests.grafana_fake import LOGIN, PAGE, grafana, latency_model

ALLOW = {"retro_fetch_allow": "127.0.0.1", "retro_fetch_allow_private": "true"}
TOKEN = "glsa_Xq81kd0PzL3mTq6vB2nW9cR4yH7uJ5eA_5f3c2b1a"
PANELS = ["p99 latency", "Requests per second", "Scorer timeouts", "Latency heatmap", "Feature lag",
          "Stale features"]


def members(row: Evidence) -> dict[str, bytes]:
    assert row.artifact is not None and row.media_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(row.artifact)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


async def test_a_dashboard_link_keeps_the_model_with_its_version_and_panels(database_url: str) -> None:
    async with grafana({"mdl-latency": latency_model()}) as g, \
            local_stack(database_url=database_url, env=ALLOW) as stack:
        served = g.body("mdl-latency")
        link = f"{g.url}/d/mdl-latency/model-latency?orgId=1&from=1765078200000&to=now"
        incident, _ = await declare(stack, "Scorer latency")
        result = await run(stack, "alice", incident.channel_name, f"evidence dashboard {link} p99 at 14:10")
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "Grafana dashboard “Model latency” version 14 · 6 panels · " in text
        assert "bytes of text/html from 127.0.0.1" in text
        e1 = await only_item(stack, incident.id or 0)
        assert e1.status == "ok" and e1.note == "p99 at 14:10"
        assert members(e1) == {"model-latency.html": PAGE, "grafana-dashboard.json": served}
        c = e1.custody
        assert c["collector"] == {"name": "url", "version": "1.1"}
        kept = {m["name"]: m for m in c["artifact"]["members"]}
        assert kept["grafana-dashboard.json"]["sha256"] == hashlib.sha256(served).hexdigest()
        assert kept["grafana-dashboard.json"]["size"] == len(served)
        assert kept["model-latency.html"]["sha256"] == hashlib.sha256(PAGE).hexdigest()
        meta = c["metadata"]
        assert meta["status"] == 200 and meta["size"] == len(PAGE)
        assert meta["grafana"] == {
            "uid": "mdl-latency", "title": "Model latency", "version": 14, "updated": "2026-12-06T21:40:03Z",
            "updated_by": "mlops-oncall", "folder": "Serving", "panels": PANELS, "panel_count": 6,
            "time": {"from": "1765078200000", "to": "now"},
            "api_url": f"{g.url}/api/dashboards/uid/mdl-latency"}
        assert [p for p, _ in g.hits] == ["/d/mdl-latency/model-latency", "/api/dashboards/uid/mdl-latency"]
        assert all(auth is None for _, auth in g.hits)
        (row,) = [e for e in await entries(stack, incident.id or 0) if e.kind == "evidence_added"]
        assert row.data["status"] == "ok"


async def test_an_unknown_dashboard_keeps_the_page_and_says_why_the_model_is_missing(database_url: str) -> None:
    async with grafana({"mdl-latency": latency_model()}) as g, \
            local_stack(database_url=database_url, env=ALLOW) as stack:
        incident, _ = await declare(stack, "Missing dashboard")
        result = await run(stack, "bob", incident.channel_name, f"evidence dashboard {g.url}/d/gone42/old-board")
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "Collected *E1*" in text and "Grafana" not in text and "not kept" not in text
        e1 = await only_item(stack, incident.id or 0)
        assert e1.status == "ok" and e1.artifact == PAGE and e1.media_type == "text/html"
        assert "members" not in e1.custody["artifact"]
        assert e1.custody["metadata"]["grafana"] == {
            "uid": "gone42", "api_url": f"{g.url}/api/dashboards/uid/gone42",
            "not_kept": "HTTP 404: Dashboard not found"}
        assert [p for p, _ in g.hits] == ["/d/gone42/old-board", "/api/dashboards/uid/gone42"]


async def test_the_token_goes_only_to_the_api_and_never_into_the_record_or_logs(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with grafana({"mdl-latency": latency_model(version=15)}, token=TOKEN) as g, \
            local_stack(database_url=database_url, env={**ALLOW, "retro_grafana_token": TOKEN}) as stack:
        served = g.body("mdl-latency")
        incident, _ = await declare(stack, "Latency behind login")
        result = await run(stack, "carol", incident.channel_name,
                           f"evidence dashboard {g.url}/d/mdl-latency/model-latency?orgId=1")
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "Grafana dashboard “Model latency” version 15 · 6 panels" in text and "after 1 redirect(s)" in text
        assert g.hits == [("/d/mdl-latency/model-latency", None), ("/login", None),
                          ("/api/dashboards/uid/mdl-latency", f"Bearer {TOKEN}")]
        e1 = await only_item(stack, incident.id or 0)
        assert members(e1) == {"login.html": LOGIN, "grafana-dashboard.json": served}
        assert e1.custody["metadata"]["grafana"]["version"] == 15
        timeline = [json.dumps(e.data) for e in await entries(stack, incident.id or 0)]
        assert TOKEN not in json.dumps(e1.custody) and not any(TOKEN in t for t in timeline)
    assert TOKEN not in text
    assert caplog.records and not any(TOKEN in r.getMessage() or TOKEN in str(r.args) for r in caplog.records)
    assert TOKEN not in caplog.text


async def test_without_the_token_a_protected_api_is_noted_and_no_header_is_sent(database_url: str) -> None:
    async with grafana({"mdl-latency": latency_model()}, token=TOKEN) as g, \
            local_stack(database_url=database_url, env=ALLOW) as stack:
        incident, _ = await declare(stack, "No token")
        result = await run(stack, "dave", incident.channel_name, f"evidence dashboard {g.url}/d/mdl-latency")
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "bytes of text/html from 127.0.0.1 after 1 redirect(s) · dashboard model not kept (Grafana API: " \
               "HTTP 401)" in text
        e1 = await only_item(stack, incident.id or 0)
        assert e1.status == "ok" and e1.artifact == LOGIN
        assert e1.custody["metadata"]["grafana"]["not_kept"] == "HTTP 401: Unauthorized"
        assert g.api_hits() == [("/api/dashboards/uid/mdl-latency", None)]


async def test_other_links_on_a_grafana_host_do_not_call_the_api_nor_get_the_token(database_url: str) -> None:
    async with grafana({"mdl-latency": latency_model()}) as g, \
            local_stack(database_url=database_url, env={**ALLOW, "retro_grafana_token": TOKEN}) as stack:
        incident, _ = await declare(stack, "Explore link")
        result = await run(stack, "erin", incident.channel_name,
                           f"evidence dashboard {g.url}/explore?left=%7B%22queries%22%3A%5B%5D%7D")
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "Collected *E1*" in text and "Grafana" not in text
        e1 = await only_item(stack, incident.id or 0)
        assert e1.artifact == PAGE and "grafana" not in e1.custody["metadata"]
        assert g.hits == [("/explore", None)]
