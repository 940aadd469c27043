"""Socket Mode: with SLACK_APP_TOKEN set, `retro serve` connects through AsyncSocketModeHandler with the same app."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import runtime
from bot.app.local import SANDBOX_TOKEN
from bot.config import Settings
from sandbox import SlackEmulator
from tests.processes import free_port
from tests.signing import signed_headers

FORM = "application/x-www-form-urlencoded"


async def test_serve_uses_socket_mode_and_still_answers_health(sqlite_database_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = SlackEmulator(signing_secret="unused", bot_token=SANDBOX_TOKEN)
    await emulator.start()
    connected: list[Any] = []

    async def fake_connect(self: AsyncSocketModeHandler) -> None:
        connected.append(self.app)

    monkeypatch.setattr(AsyncSocketModeHandler, "connect_async", fake_connect)
    port = free_port()
    settings = Settings.model_validate({
        "slack_bot_token": SANDBOX_TOKEN, "slack_app_token": "xapp-1-test", "slack_api_url": emulator.api_url,
        "database_url": sqlite_database_url, "port": port, "host": "127.0.0.1",
        "retro_scheduler": False})
    settings.check_for_serve()  # Socket Mode needs no signing secret
    task = asyncio.create_task(runtime.serve(settings))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200 and connected:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        assert connected, "Socket Mode handler never connected"
        assert any(listener for listener in connected[0]._async_listeners), "the app has no listeners"
        # Slack's requests come over the socket: HTTP serves health and readiness only. A command signed with the
        # empty key (no SLACK_SIGNING_SECRET is set here) reaches nothing.
        body = urlencode({"command": "/retro", "text": "start Forged sev=1", "team_id": "T0SANDBOX",
                          "user_id": "U0ALICE", "channel_id": "C0GENERAL", "response_url": "http://127.0.0.1:9/x"})
        async with aiohttp.ClientSession() as http:
            for path in ("/slack/events", "/slack/install", "/slack/oauth_redirect", "/metrics"):
                async with http.post(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers=signed_headers("", body, content_type=FORM)) as resp:
                    assert resp.status in (404, 405), path
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200 and await resp.json() == {"status": "ok"}
        assert emulator.calls_for("conversations.create") == []
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # serve() handles SIGTERM by shutting down cleanly
        await asyncio.wait_for(task, 15)
        await emulator.stop()
