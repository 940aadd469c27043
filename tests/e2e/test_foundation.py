"""The foundation over real HTTP: de-duplication, help, health and configuration at start.

Forged, stale, altered and oversized requests are refused in test_security.py, on every payload type.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import aiohttp
from sqlmodel import func, select

from bot.app.local import SANDBOX_SECRET, LocalStack
from storage.models import ProcessedEvent
from tests.signing import signed_headers


def event_payload(event_id: str, channel: str = "C0GENERAL", text: str = "hello") -> dict[str, object]:
    return {"token": "x", "team_id": "T0SANDBOX", "api_app_id": "A0RETRO", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()),
            "event": {"type": "message", "channel": channel, "user": "U0ALICE", "text": text,
                      "ts": f"{time.time():.6f}", "event_ts": f"{time.time():.6f}"}}


async def count_processed(stack: LocalStack) -> int:
    async with stack.deps.session() as s:
        return int((await s.exec(select(func.count()).select_from(ProcessedEvent))).one())


async def test_url_verification_is_answered(stack: LocalStack) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    async with aiohttp.ClientSession() as http, http.post(
            stack.events_url, data=body, headers=signed_headers(SANDBOX_SECRET, body)) as resp:
        assert resp.status == 200
        assert (await resp.json())["challenge"] == "c-123"


async def test_same_event_four_times_is_processed_once(stack: LocalStack) -> None:
    payload = event_payload("Ev0DUPLICATE")
    statuses = [await stack.emulator.deliver_raw(payload, retry_num=n) for n in (None, 1, 2, 3)]
    assert statuses == [200, 200, 200, 200]
    assert await count_processed(stack) == 1


async def test_help_is_acknowledged_fast_and_answered(stack: LocalStack) -> None:
    result = await stack.driver.command("alice", "#general", "help")
    assert result.ok and result.ack_seconds < 3.0
    await result.replies()
    text = result.text()
    for sub in ("start", "note", "evidence", "status", "timeline", "hypothesis", "action", "postmortem"):
        assert f"/retro {sub}" in text, sub
    bare = await stack.driver.command("alice", "#general", "")
    await bare.replies()
    assert "/retro start" in bare.text()


async def test_unknown_subcommand_answers_with_usage(stack: LocalStack) -> None:
    result = await stack.driver.command("bob", "#general", "frobnicate now")
    await result.replies()
    assert "Unknown subcommand `frobnicate`" in result.text()
    assert "Usage: `/retro <help|start|" in result.text()


async def test_healthz_reports_database_state_and_nothing_more(stack: LocalStack) -> None:
    base = stack.events_url.rsplit("/slack/events", 1)[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok"}  # no version or schema revision for the world
        from storage.db import create_engine

        real = stack.deps.engine
        stack.deps.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
        try:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 503
                assert await resp.json() == {"status": "unavailable"}
        finally:
            await stack.deps.engine.dispose()
            stack.deps.engine = real


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, check=False)


def test_misconfiguration_fails_at_start_with_one_line() -> None:
    proc = run_cli("serve", env={"SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": "sqlite+aiosqlite:///:memory:"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["retro: configuration error: SLACK_SIGNING_SECRET is required in HTTP mode "
                     "(or set SLACK_APP_TOKEN for Socket Mode)"]
    assert "xoxb-1" not in proc.stderr


def test_serve_without_tokens_points_at_the_sandbox() -> None:
    proc = run_cli("serve", env={})
    assert proc.returncode == 2
    assert "retro sandbox" in proc.stderr and "manifest.yml" in proc.stderr
