"""The aiohttp application Retro owns: /slack/events, /healthz, /readyz, /metrics, the OAuth routes and the alert
intake (bot/app/alert_routes.py); and the runner that serves it until SIGTERM."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app.alert_routes import add_alert_routes
from bot.deps import Deps
from bot.observability import CONTENT_TYPE
from bot.slack import inbound
from storage.db import ping
from storage.migrate import database_revision, head_revision

log = logging.getLogger("retro.server")
MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is refused with 413
DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
PUBLIC_METRICS_KEY = web.AppKey("public_metrics", bool)


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


def _log_request(level: int, kind: str, outcome: str, status: int, elapsed: float, body: dict[str, Any],
                 context: dict[str, Any]) -> None:
    if log.isEnabledFor(level):
        team = body.get("team_id") or (body.get("team") or {}).get("id")
        log.log(level, "slack request", extra={"type": kind, "outcome": outcome, "status": status,
                                         "ms": round(elapsed * 1000, 1), "team": team,
                                         "incident": context.get("incident_id"), "event_id": body.get("event_id")})


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Every Slack request (commands, events, interactivity): signature and shape checked on the raw bytes, then
    Bolt. A refused request gets its status and an empty body: nothing is parsed, answered or stored."""
    started = time.perf_counter()
    bolt, deps = request.app[BOLT_KEY], request.app[DEPS_KEY]
    raw = await request.read()  # over MAX_BODY: aiohttp answers 413 here
    secret = deps.settings.slack_signing_secret
    try:
        inbound.verify(secret.get_secret_value() if secret else "", raw,
                       request.headers.get("X-Slack-Request-Timestamp"), request.headers.get("X-Slack-Signature"))
        inbound.check_shape(raw, request.headers.get("Content-Type", ""))
    except inbound.Refused as refused:
        outcome = "refused" if refused.status == 401 else "malformed"
        deps.metrics.requests.labels(type="unverified", outcome=outcome).inc()
        log.info("slack request refused", extra={"status": refused.status, "why": refused.reason,
                                                 "ms": round((time.perf_counter() - started) * 1000, 1)})
        return web.Response(status=refused.status)
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
    _log_request(level, kind, outcome, bolt_resp.status, elapsed, body, bolt_req.context)
    return await to_aiohttp_response(bolt_resp)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 when it does not; nothing else is told to the world."""
    deps = request.app[DEPS_KEY]
    try:
        await asyncio.wait_for(ping(deps.engine), timeout=3)
    except Exception as exc:  # any failure to answer means not healthy
        log.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition (on the metrics port as it is; on the Slack port only with the bearer token)."""
    deps = request.app[DEPS_KEY]
    token = deps.settings.retro_metrics_token
    if request.app.get(PUBLIC_METRICS_KEY) is not True:
        given = request.headers.get("Authorization", "")
        if token is None or not hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
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
    if not ready:
        log.warning("readiness: schema at %s, this version expects %s", current, head)
    return web.json_response({"ready": ready}, status=200 if ready else 503)


async def oauth_route(request: web.Request) -> web.StreamResponse:
    """/slack/install and /slack/oauth_redirect, handled by Bolt's OAuth flow."""
    flow = request.app[BOLT_KEY].oauth_flow
    assert flow is not None
    bolt_req = await to_bolt_request(request)
    if request.path == flow.install_path:
        return await to_aiohttp_response(await flow.handle_installation(bolt_req))
    return await to_aiohttp_response(await flow.handle_callback(bolt_req))


def build_web_app(bolt: AsyncApp, deps: Deps) -> web.Application:
    """The HTTP surface, with a 1 MiB body limit. In Socket Mode, Slack's requests come over the socket: HTTP
    serves health and readiness only (and metrics behind their token)."""
    web_app = web.Application(client_max_size=MAX_BODY)
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    if deps.settings.retro_metrics_token is not None:
        web_app.router.add_get("/metrics", metrics)
    add_alert_routes(web_app, deps)  # only with RETRO_ALERT_TOKEN; in Socket Mode too (alerts come over HTTP)
    if deps.settings.retro_web:
        from bot.app.web import add_web_routes

        add_web_routes(web_app, deps, bolt)  # the read-only web view, Socket Mode or not
    if deps.settings.socket_mode:
        return web_app
    web_app.router.add_post("/slack/events", slack_events)
    if bolt.oauth_flow is not None:
        web_app.router.add_get(bolt.oauth_flow.install_path, oauth_route)
        web_app.router.add_get(bolt.oauth_flow.redirect_uri_path, oauth_route)
    return web_app


def build_metrics_app(deps: Deps) -> web.Application:
    """/metrics alone, for RETRO_METRICS_PORT (a port the world does not reach)."""
    metrics_app = web.Application(client_max_size=1024)
    metrics_app[DEPS_KEY] = deps
    metrics_app[PUBLIC_METRICS_KEY] = True
    metrics_app.router.add_get("/metrics", metrics)
    return metrics_app


async def serve_until_stopped(web_app: web.Application, *, host: str, port: int, metrics_port: int | None = None,
                              extra: Callable[[], Coroutine[Any, Any, None]] | None = None,
                              on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run the site (and the metrics site on its own port) until SIGTERM/SIGINT, then stop taking requests and let
    in-flight ones finish."""
    runner = web.AppRunner(web_app, shutdown_timeout=8.0)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    log.info("listening on http://%s:%s", host, port)
    metrics_runner = None
    if metrics_port is not None:
        metrics_runner = web.AppRunner(build_metrics_app(web_app[DEPS_KEY]))
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, host=host, port=metrics_port).start()
        log.info("metrics on http://%s:%s/metrics", host, metrics_port)
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
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        deps = web_app[DEPS_KEY]
        if not await deps.inflight.wait_idle(timeout=5):
            log.warning("shutdown: %d listener tasks still running", deps.inflight.count)
        if on_stop is not None:
            await on_stop()
