"""/metrics in Prometheus text format (behind a token on the Slack port, or on its own port), /readyz, and JSON log
lines without secrets or message text."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app.local import SANDBOX_TOKEN, LocalStack, local_stack
from bot.observability import JsonFormatter
from tests.e2e.helpers import declare, run


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


METRICS_TOKEN = "metrics-scrape-token"


@pytest.fixture
async def metered(database_url: str) -> AsyncIterator[LocalStack]:
    """A stack whose /metrics is served on the Slack port behind a bearer token."""
    async with local_stack(database_url=database_url, env={"retro_metrics_token": METRICS_TOKEN}) as s:
        yield s


async def test_metrics_are_not_served_on_the_slack_port_by_default(stack: LocalStack) -> None:
    base = stack.events_url.rsplit("/slack/events", 1)[0]
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        assert resp.status == 404


async def test_metrics_on_the_slack_port_need_the_token(metered: LocalStack) -> None:
    base = metered.events_url.rsplit("/slack/events", 1)[0]
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN}):
            async with http.get(f"{base}/metrics", headers=headers) as resp:
                assert resp.status == 401 and "retro_" not in await resp.text()


async def test_metrics_count_requests_events_and_slack_calls(metered: LocalStack) -> None:
    stack = metered
    incident, _ = await declare(stack, "Metrics drill")
    await stack.driver.post("bob", incident.channel_name, "a message")
    await stack.settle()
    dup = next(d for d in stack.emulator.deliveries if d.payload["event"].get("text") == "a message")
    assert await stack.emulator.redeliver(dup.event_id, retry_num=1) == 200
    await run(stack, "alice", incident.channel_name, "note metric me")
    base = stack.events_url.rsplit("/slack/events", 1)[0]
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics", headers=auth) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
        values = samples(await resp.text())
    assert values[("retro_requests_total", (("outcome", "ok"), ("type", "command")))] >= 2
    assert values[("retro_requests_total", (("outcome", "duplicate"), ("type", "event_callback")))] >= 1
    assert values[("retro_events_recorded_total", ())] >= 1
    assert values[("retro_slack_api_calls_total", (("method", "conversations.create"),))] == 1
    assert values[("retro_ack_seconds_count", (("type", "command"),))] >= 2
    assert ("retro_database_errors_total", ()) in values


async def test_readyz_knows_the_schema(stack: LocalStack) -> None:
    base = stack.events_url.rsplit("/slack/events", 1)[0]
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as resp:
        assert resp.status == 200 and await resp.json() == {"ready": True}


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord("retro.server", logging.INFO, __file__, 1, "slack request", None, None)
    record.team, record.incident = "T1", 7
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "slack request" and line["team"] == "T1" and line["incident"] == 7
    assert line["level"] == "info" and line["ts"].endswith("Z")


async def test_info_logs_never_hold_tokens_or_message_text(stack: LocalStack,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    incident, _ = await declare(stack, "Log hygiene")
    await stack.driver.post("bob", incident.channel_name, "the secret sauce is 42")
    await run(stack, "alice", incident.channel_name, "note confidential note")
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.levelno <= logging.INFO)
    assert "slack request" in text
    for secret in (SANDBOX_TOKEN, "sandbox-signing-secret", "secret sauce", "confidential note"):
        assert secret not in text, secret


async def test_request_lines_are_info_for_commands_and_debug_for_recorded_events(
        stack: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="retro.server")
    incident, _ = await declare(stack, "Log levels")
    await stack.driver.post("bob", incident.channel_name, "an ordinary message")
    await run(stack, "alice", incident.channel_name, "note a note")
    await stack.settle()
    lines = [(r.levelno, r.__dict__.get("type"), r.__dict__.get("outcome")) for r in caplog.records
             if r.getMessage() == "slack request"]
    assert (logging.INFO, "command", "ok") in lines
    assert (logging.DEBUG, "event_callback", "ok") in lines
    assert not [x for x in lines if x[1] == "event_callback" and x[0] != logging.DEBUG and x[2] == "ok"]
