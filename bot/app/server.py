"""The aiohttp application Retro owns: /slack/events, /healthz, /readyz, /metrics and the OAuth routes; and the
runner that serves it until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import __version__
from bot.deps import Deps
from bot.observability import CONTENT_TYPE
from storage.db import ping
from storage.migrate import database_revision, head_revision

log = logging.getLogger("retro.server")
MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is refused with 413
DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)


def request_type(body: dict[str, Any]) -> str:
    """A low-cardinality label for a Slack payload."""
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "unknown")
    return kind if kind in ("event_callback", "block_actions", "view_submission", "view_closed",
                            "url_verification", "block_suggestion", "shortcut", "message_action") else "other"


def outcome_of(status: int, duplicate: bool) -> str:
    """ok, duplicate, refused (signature), unhandled or error."""
    if status == 200:
        return "duplicate" if duplicate else "ok"
    return {401: "refused", 404: "unhandled", 413: "too_large"}.get(status, "error")


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Every Slack request (commands, events, interactivity) goes through Bolt, which checks the signature."""
    started = time.perf_counter()
    bolt, deps = request.app[BOLT_KEY], request.app[DEPS_KEY]
    bolt_req = await to_bolt_request(request)
    bolt_resp = await bolt.async_dispatch(bolt_req)
    elapsed = time.perf_counter() - started
    body = bolt_req.body if isinstance(bolt_req.body, dict) else {}
    kind = request_type(body)
    outcome = outcome_of(bolt_resp.status, bool(bolt_req.context.get("duplicate")))
    deps.metrics.requests.labels(type=kind, outcome=outcome).inc()
    deps.metrics.ack_seconds.labels(type=kind).observe(elapsed)
    # Events recorded as expected are the bulk of the traffic and are counted in the metrics: their line is debug.
    level = logging.DEBUG if kind == "event_callback" and outcome in ("ok", "duplicate") else logging.INFO
    if log.isEnabledFor(level):
        team = body.get("team_id") or (body.get("team") or {}).get("id")
        log.log(level, "slack request", extra={"type": kind, "outcome": outcome, "status": bolt_resp.status,
                                         "ms": round(elapsed * 1000, 1), "team": team,
                                         "incident": bolt_req.context.get("incident_id"),
                                         "event_id": body.get("event_id")})
    return await to_aiohttp_response(bolt_resp)


async def healthz(request: web.Request) -> web.Response:
    """200 with version and database status, 503 when the database does not answer."""
    deps = request.app[DEPS_KEY]
    try:
        await asyncio.wait_for(ping(deps.engine), timeout=3)
    except Exception as exc:  # any failure to answer means not healthy
        log.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "version": __version__, "database": "down"}, status=503)
    return web.json_response({"status": "ok", "version": __version__, "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    deps = request.app[DEPS_KEY]
    return web.Response(body=deps.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


async def readyz(request: web.Request) -> web.Response:
    """200 when the database answers and its schema is at this version's head revision."""
    deps = request.app[DEPS_KEY]
    try:
        current = await asyncio.wait_for(database_revision(deps.engine), timeout=3)
    except Exception as exc:  # unreachable database
        log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"ready": False, "database": "down"}, status=503)
    head = head_revision()
    ready = current == head
    return web.json_response({"ready": ready, "database": "ok", "schema": current, "expected": head},
                             status=200 if ready else 503)


async def oauth_route(request: web.Request) -> web.StreamResponse:
    """/slack/install and /slack/oauth_redirect, handled by Bolt's OAuth flow."""
    flow = request.app[BOLT_KEY].oauth_flow
    assert flow is not None
    bolt_req = await to_bolt_request(request)
    if request.path == flow.install_path:
        return await to_aiohttp_response(await flow.handle_installation(bolt_req))
    return await to_aiohttp_response(await flow.handle_callback(bolt_req))


def build_web_app(bolt: AsyncApp, deps: Deps) -> web.Application:
    """The HTTP surface, with a 1 MiB body limit."""
    web_app = web.Application(client_max_size=MAX_BODY)
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)
    if bolt.oauth_flow is not None:
        web_app.router.add_get(bolt.oauth_flow.install_path, oauth_route)
        web_app.router.add_get(bolt.oauth_flow.redirect_uri_path, oauth_route)
    return web_app


async def serve_until_stopped(web_app: web.Application, *, host: str, port: int,
                              extra: Callable[[], Coroutine[Any, Any, None]] | None = None,
                              on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run the site until SIGTERM/SIGINT, then stop taking requests and let in-flight ones finish."""
    runner = web.AppRunner(web_app, shutdown_timeout=8.0)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    log.info("listening on http://%s:%s", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    side = asyncio.create_task(extra()) if extra else None
    try:
        await stop.wait()
        log.info("shutting down: no new requests; finishing in-flight ones")
    finally:
        if side is not None:
            side.cancel()
        # Order matters: stop listening and let in-flight requests finish (they need the database), then stop
        # background work and release the database.
        await runner.cleanup()
        deps = web_app[DEPS_KEY]
        if not await deps.inflight.wait_idle(timeout=5):
            log.warning("shutdown: %d listener tasks still running", deps.inflight.count)
        if on_stop is not None:
            await on_stop()
