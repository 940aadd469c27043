"""A minimal app endpoint for sandbox tests: records signed requests and answers as told."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import SignatureVerifier


@dataclass
class Received:
    """One request the emulator or driver sent to the app."""

    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def form(self) -> dict[str, str]:
        """Form fields (slash commands)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def json(self) -> Any:
        """JSON body (events) or the `payload` form field (interactions)."""
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return json.loads(self.form["payload"])
        return json.loads(self.body)


Handler = Callable[[Received], Awaitable[web.StreamResponse]]


class FakeApp:
    """Listens on a loopback port like the app's request URL."""

    def __init__(self, secret: str) -> None:
        self.verifier = SignatureVerifier(secret)
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.handler: Handler | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        received = Received(headers, body, self.verifier.is_valid_request(body, headers))
        self.requests.append(received)
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        if self.handler is not None:
            return await self.handler(received)
        return web.Response(status=200)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/slack/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/slack/events"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Inner events of event_callback requests (one per request, retries included)."""
        out = []
        for r in self.requests:
            if r.headers.get("Content-Type", "").startswith("application/json"):
                payload = json.loads(r.body)
                event = payload.get("event") or {}
                if type is None or event.get("type") == type:
                    out.append(event)
        return out

    def forms(self) -> list[dict[str, str]]:
        """Form-encoded requests (slash commands and `payload=` interactions)."""
        return [r.form for r in self.requests
                if r.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")]

    def interactions(self, type: str | None = None) -> list[dict[str, Any]]:
        """Parsed `payload=` interactions received, optionally of one type."""
        payloads = [json.loads(f["payload"]) for f in self.forms() if "payload" in f]
        return [p for p in payloads if type is None or p.get("type") == type]
