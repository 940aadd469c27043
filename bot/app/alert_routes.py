"""`POST /alerts/alertmanager` and `POST /alerts/webhook`: a bearer token, a size cap, a parse, a durable record,
then the answer. The Slack work happens after, in the alert runner (bot/slack/alert_runner.py).

Routed only when RETRO_ALERT_TOKEN is set (otherwise 404, as any unknown path). Answers: 401 without the right
token, 413 over RETRO_ALERT_MAX_BYTES, 400 with the reason for a malformed body, 503 when the workspace alerts
belong to cannot be told, 200 `{"ok": true, "notice": id, "duplicate": bool}` once the notice is committed.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlmodel import col, select

from bot.alert_config import AlertWebhook
from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.batch import AlertBatch, PayloadError
from bot.alerts.intake import AlertSignal, record
from bot.alerts.webhook import parse_webhook
from bot.canonical import sha256_hex
from bot.deps import Deps
from storage.models import Workspace

log = logging.getLogger("retro.alerts")
PATHS = {"alertmanager": "/alerts/alertmanager", "webhook": "/alerts/webhook"}


class Unavailable(Exception):
    """Alerts cannot be taken now (the workspace they belong to is unknown); said in the 503."""


def _refuse(status: int, error: str, **headers: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers or None)


def authorised(given: str, token: str) -> bool:
    """Whether an Authorization header carries the bearer token (compared in constant time)."""
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def read_capped(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is (or says it is) longer than `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def alert_team(deps: Deps) -> str:
    """The workspace alerts belong to: RETRO_ALERT_TEAM, else the bot's own (one token), else the only install."""
    wanted = deps.settings.retro_alert_team
    async with deps.session() as session:
        if wanted:
            row = await session.get(Workspace, wanted)
            if row is None or row.uninstalled_at is not None:
                raise Unavailable(f"RETRO_ALERT_TEAM names {wanted}, a workspace Retro is not installed in")
            return wanted
        if deps.settings.slack_bot_token is not None and len(deps.workspace_url) == 1:
            return next(iter(deps.workspace_url))
        found = await session.exec(select(Workspace.team_id).where(col(Workspace.uninstalled_at).is_(None)))
        teams = list(found.all())
    if len(teams) != 1:
        raise Unavailable(f"{'several workspaces have' if teams else 'no workspace has'} Retro installed: "
                          "set RETRO_ALERT_TEAM to the one alerts belong to")
    return teams[0]


def webhook_mapping(deps: Deps) -> AlertWebhook | None:
    """The team YAML's mapping for the generic webhook, if it has one."""
    return deps.catalog.alerts.webhook


def _receiver(source: str, deps: Deps) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def receive(request: web.Request) -> web.Response:
        return await take(request, source, deps)

    return receive


async def take(request: web.Request, source: str, deps: Deps) -> web.Response:
    """One notification from `source`: checked, recorded (committed) and answered; the runner is woken."""
    started = time.perf_counter()
    settings = deps.settings
    assert settings.retro_alert_token is not None  # routed only with a token
    count = deps.metrics.alerts.labels
    if not authorised(request.headers.get("Authorization", ""), settings.retro_alert_token.get_secret_value()):
        count(source=source, outcome="refused").inc()
        log.info("alert refused: no or wrong bearer token", extra={"source": source})
        return _refuse(401, "a valid bearer token is required", **{"WWW-Authenticate": "Bearer"})
    raw = await read_capped(request, settings.retro_alert_max_bytes)
    if raw is None:
        count(source=source, outcome="refused").inc()
        log.info("alert refused: body too large", extra={"source": source, "limit": settings.retro_alert_max_bytes})
        return _refuse(413, f"the body is over {settings.retro_alert_max_bytes} bytes")
    try:
        batch: AlertBatch = (parse_alertmanager(raw) if source == "alertmanager"
                             else parse_webhook(raw, webhook_mapping(deps)))
        team_id = await alert_team(deps)
    except PayloadError as exc:
        count(source=source, outcome="malformed").inc()
        log.info("alert refused: malformed", extra={"source": source, "why": exc.reason})
        return _refuse(400, exc.reason)
    except Unavailable as exc:
        count(source=source, outcome="refused").inc()
        log.warning("alert refused: %s", exc, extra={"source": source})
        return _refuse(503, str(exc))
    async with deps.session() as session:
        notice, new = await record(session, team_id=team_id, batch=batch, raw_sha256=sha256_hex(raw), now=deps.now())
    count(source=source, outcome="accepted" if new else "duplicate").inc()
    log.info("alert notification recorded", extra={
        "source": source, "team": team_id, "notice": notice.id, "duplicate": not new, "status": batch.status,
        "alerts": len(batch.alerts), "ms": round((time.perf_counter() - started) * 1000, 1)})
    if new and AlertSignal in deps.services:
        deps.get(AlertSignal).wake()
    return web.json_response({"ok": True, "notice": notice.id, "duplicate": not new})


def add_alert_routes(web_app: web.Application, deps: Deps) -> None:
    """Route the alert endpoints when RETRO_ALERT_TOKEN is set; without it they do not exist (404)."""
    if deps.settings.retro_alert_token is None:
        return
    for source, path in PATHS.items():
        web_app.router.add_post(path, _receiver(source, deps))
