"""Grafana dashboards: beside the page, the dashboard's JSON model (with its version) from Grafana's HTTP API."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from bot.collectors.base import JSON_TYPE, Artifact
from bot.collectors.http import Http, Response, redact
from bot.collectors.netguard import allowed_host, host_of
from bot.config import Settings
from bot.errors import CollectorError

log = logging.getLogger("retro.collectors.grafana")

MODEL_NAME = "grafana-dashboard.json"
MAX_PANELS = 50
_TEXT_MAX = 200
# `[<sub path>]/d/<uid>[/<slug>]`: Grafana dashboard UIDs are at most 40 letters, digits, `-` and `_`.
_LINK = re.compile(r"(?P<prefix>(?:/[^/]+)*?)/d/(?P<uid>[A-Za-z0-9_-]{1,40})(?:/[^/]+)?/?")


@dataclass(frozen=True)
class DashboardLink:
    """A dashboard link: the dashboard's uid, where its model is asked for, and the time range people looked at."""

    uid: str
    api_url: URL
    time: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Model:
    """What the API gave: the model file (None when it could not be kept), custody metadata, and words for the
    summary line: a head before the page's (a kept model) or a note after it (a model refused for want of access)."""

    metadata: dict[str, Any]
    file: Artifact | None = None
    headline: str = ""
    note: str = ""


def dashboard_link(url: URL) -> DashboardLink | None:
    """The dashboard a `/d/<uid>[/<slug>]` link (also under a sub path) points at, or None for any other URL."""
    m = _LINK.fullmatch(url.raw_path)
    if m is None:
        return None
    api = url.with_path(f"{m['prefix']}/api/dashboards/uid/{m['uid']}", encoded=True).with_query(None)
    time = {k: url.query[k][:_TEXT_MAX] for k in ("from", "to") if url.query.get(k)}
    return DashboardLink(m["uid"], api.with_fragment(None), time)


def panel_titles(dashboard: dict[str, Any]) -> list[str]:
    """Titles of every panel, rows' panels included (collapsed rows nest them; old models list `rows`)."""
    titles: list[str] = []

    def walk(panels: object, depth: int) -> None:
        for p in panels if isinstance(panels, list) else []:
            if not isinstance(p, dict):
                continue
            if p.get("type") == "row" or "panels" in p:
                if depth == 0:  # rows hold panels, never rows: deeper nesting is not Grafana's
                    walk(p.get("panels"), depth + 1)
                continue
            library = p.get("libraryPanel")
            title = p.get("title") or (library.get("name") if isinstance(library, dict) else None)
            titles.append(_text(title) or "")

    walk(dashboard.get("panels"), 0)
    walk(dashboard.get("rows"), 0)
    return titles


def read_model(resp: Response, uid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answer's `dashboard` and `meta` objects, or a CollectorError saying why it is not this dashboard."""
    if resp.status in (301, 302, 303, 307, 308):
        raise CollectorError(f"HTTP {resp.status} (a redirect, not followed for the API)")
    if resp.status != 200:
        raise CollectorError(f"HTTP {resp.status}{_message(resp)}")
    try:
        body = json.loads(resp.body)
    except (ValueError, RecursionError):
        raise CollectorError(f"HTTP 200 with {resp.media_type}, not readable JSON") from None
    dashboard = body.get("dashboard") if isinstance(body, dict) else None
    if not isinstance(dashboard, dict) or dashboard.get("uid") != uid:
        raise CollectorError(f"the answer is not a Grafana dashboard with uid {uid}")
    meta = body.get("meta")
    return dashboard, meta if isinstance(meta, dict) else {}


def kept(link: DashboardLink, body: bytes, dashboard: dict[str, Any], meta: dict[str, Any]) -> Model:
    """The model file, its custody metadata and the summary head for a dashboard Grafana answered."""
    titles = panel_titles(dashboard)
    version = next((v for v in (dashboard.get("version"), meta.get("version"))
                    if isinstance(v, int) and not isinstance(v, bool)), None)
    title = _text(dashboard.get("title"))
    metadata: dict[str, Any] = {
        "uid": link.uid, "title": title, "version": version, "updated": _text(meta.get("updated")),
        "updated_by": _text(meta.get("updatedBy")), "folder": _text(meta.get("folderTitle")),
        "panels": titles[:MAX_PANELS], "panel_count": len(titles), "api_url": redact(link.api_url)}
    if link.time:
        metadata["time"] = dict(link.time)
    n = len(titles)
    head = f"Grafana dashboard “{title or link.uid}”" + (f" version {version}" if version is not None else "")
    return Model(metadata, Artifact(MODEL_NAME, JSON_TYPE, body), f"{head} · {n} panel{'' if n == 1 else 's'}")


async def fetch_model(http: Http, link: DashboardLink, settings: Settings) -> Model:
    """Ask the dashboard's host for its JSON model; any failure is noted in the metadata, never raised."""
    host = host_of(link.api_url)
    token = settings.retro_grafana_token.get_secret_value() if settings.retro_grafana_token else None
    headers = {"Accept": JSON_TYPE}
    if token and allowed_host(host, settings.fetch_allow):
        headers["Authorization"] = f"Bearer {token}"
    status = 0
    try:
        resp = await http.get(link.api_url, label=f"{host} (Grafana API)", headers=headers)
        status = resp.status
        dashboard, meta = read_model(resp, link.uid)
    except CollectorError as exc:
        reason = exc.user_message.replace(token, "[token]") if token else exc.user_message
        log.info("the model of Grafana dashboard %s was not kept: %s", link.uid, reason)
        failed: dict[str, Any] = {"uid": link.uid, "api_url": redact(link.api_url), "not_kept": reason[:500]}
        if link.time:
            failed["time"] = dict(link.time)
        denied = f"dashboard model not kept (Grafana API: HTTP {status})" if status in (401, 403) else ""
        return Model(failed, note=denied)
    return kept(link, resp.body, dashboard, meta)


def _message(resp: Response) -> str:
    """Grafana's `{"message": …}` of an error answer, as `: …`, or nothing."""
    try:
        body = json.loads(resp.body)
    except (ValueError, RecursionError):
        return ""
    text = _text(body.get("message")) if isinstance(body, dict) else None
    return f": {text}" if text else ""


def _text(value: object) -> str | None:
    """A string value from the model, clipped; None for anything else."""
    return value[:_TEXT_MAX] if isinstance(value, str) else None
