"""The aiohttp application Retro owns: /slack/events, /healthz; and the runners for HTTP and Socket Mode."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import __version__
from bot.deps import Deps
from storage.db import ping

log = logging.getLogger("retro.server")
MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; anything bigger is refused with 413
DEPS_KEY = web.AppKey("deps", Deps)
BOLT_KEY = web.AppKey("bolt", AsyncApp)


async def slack_events(request: web.Request) -> web.StreamResponse:
    """Every Slack request (commands, events, interactivity) goes through Bolt, which checks the signature."""
    bolt = request.app[BOLT_KEY]
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))


async def healthz(request: web.Request) -> web.Response:
    """200 with version and database status, 503 when the database does not answer."""
    deps = request.app[DEPS_KEY]
    try:
        await asyncio.wait_for(ping(deps.engine), timeout=3)
    except Exception as exc:  # any failure to answer means not healthy
        log.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "version": __version__, "database": "down"}, status=503)
    return web.json_response({"status": "ok", "version": __version__, "database": "ok"})


def build_web_app(bolt: AsyncApp, deps: Deps) -> web.Application:
    """The HTTP surface, with a 1 MiB body limit."""
    web_app = web.Application(client_max_size=MAX_BODY)
    web_app[DEPS_KEY] = deps
    web_app[BOLT_KEY] = bolt
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
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
        log.info("shutting down")
    finally:
        if side is not None:
            side.cancel()
        if on_stop is not None:
            await on_stop()
        await runner.cleanup()
