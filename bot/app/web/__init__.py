"""The read-only web view under /web/: incidents, postmortems, stats and patterns for everyone in the workspace,
behind Sign in with Slack (docs/web.md)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.app.web import auth, pages, session
from bot.app.web.name_lookup import NameAsker
from bot.deps import Deps

STATIC = Path(__file__).resolve().parent / "static"


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{session.PATH}/")


def add_web_routes(web_app: web.Application, deps: Deps, bolt: AsyncApp) -> None:
    """Serve the web view on this application (RETRO_WEB=false leaves it out: /web/ is then a 404)."""
    from bot.app.web import incident_pages, list_pages, trend_pages  # the pages import the whole domain

    web_app[pages.DEPS], web_app[pages.BOLT], web_app[pages.PAGES] = deps, bolt, pages.environment()
    web_app[pages.NAMES] = NameAsker()
    web_app.middlewares.append(pages.security_headers)
    web_app.router.add_get(session.PATH, _home)
    web_app.router.add_routes(auth.routes())
    web_app.router.add_static(f"{session.PATH}/static", STATIC, append_version=False)
    for module in (list_pages, incident_pages, trend_pages):
        web_app.router.add_routes(module.routes())
