"""What every page of the web view shares: who is signed in (or the way to sign in), what they may see, rendering
with the layout, and the security headers of every /web/ answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlmodel import select

import templates
from bot.app.web import session
from bot.app.web.name_lookup import NameAsker
from bot.deps import Deps
from bot.slack.installs import acting_bot
from bot.slack.people import Membership, membership_in
from storage.models import Incident, Workspace

DEPS = web.AppKey("web_deps", Deps)
BOLT = web.AppKey("web_bolt", AsyncApp)
PAGES = web.AppKey("web_templates", jinja2.Environment)
NAMES = web.AppKey("web_names", NameAsker)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin",
           "Cross-Origin-Resource-Policy": "same-origin", "Permissions-Policy": "camera=(), microphone=(), "
           "geolocation=(), interest-cohort=()"}


def environment() -> jinja2.Environment:
    """The web view's templates: HTML, autoescaped, strict about undefined names."""
    folder = Path(templates.__file__).resolve().parent / "web"
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def headers_for(deps: Deps) -> dict[str, str]:
    """The strict headers of every /web/ answer, with HSTS when the public address is https."""
    public = deps.settings.retro_public_url
    hsts = {"Strict-Transport-Security": "max-age=31536000"} if public and public.startswith("https://") else {}
    return {**HEADERS, "Cache-Control": "no-store", **hsts}


@web.middleware
async def security_headers(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Every /web/ answer (pages, files, redirects, errors) carries the strict headers; pages are never cached."""
    ours = request.path.startswith(session.PATH + "/") or request.path == session.PATH
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        if ours:
            exc.headers.update(headers_for(request.app[DEPS]))
        raise
    if ours and not resp.prepared:
        resp.headers.update(headers_for(request.app[DEPS]))
    return resp


@dataclass
class Viewer:
    """A signed-in person, their workspace's client, and what they may see (membership asked once per request)."""

    request: web.Request
    me: session.Session
    membership: Membership

    @property
    def deps(self) -> Deps:
        """The bot's dependencies."""
        return self.request.app[DEPS]

    async def is_member(self, channel_id: str) -> bool:
        """Whether they are in this private channel (Slack is asked once per request)."""
        return await self.membership.is_member(channel_id)

    async def can_see(self, incident: Incident) -> bool:
        """The rule Slack applies: their workspace's public incidents, and private ones whose channel they are in."""
        if incident.team_id != self.me.team_id:
            return False
        return not incident.private or await self.is_member(incident.channel_id)

    async def visible(self, found: list[Incident]) -> list[Incident]:
        """The incidents of `found` they may see."""
        return [i for i in found if await self.can_see(i)]

    async def incident(self, raw_id: str) -> Incident:
        """An incident they may see, by its id; one answer (404) for missing, elsewhere and private, so ids leak
        nothing."""
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9):  # ids fit every database's integer
            raise web.HTTPNotFound()
        number = int(raw_id)
        async with self.deps.session() as s:
            found = await s.get(Incident, number)
        if found is None or not await self.can_see(found):
            raise web.HTTPNotFound()
        return found


def signin_redirect(request: web.Request) -> web.HTTPFound:
    """To the sign-in page, remembering the page asked for."""
    return web.HTTPFound(f"{session.PATH}/signin?next={quote(request.path_qs, safe='')}")


async def workspace_installed(deps: Deps, team_id: str) -> bool:
    """Whether Retro serves this workspace: installed and not uninstalled, or (multi-workspace) a bot acts in it
    (an org-wide install serves workspaces of the organization before Retro has heard from them)."""
    async with deps.session() as s:
        row = (await s.exec(select(Workspace).where(Workspace.team_id == team_id))).first()
    if row is not None:
        return row.uninstalled_at is None
    return await acting_bot(deps, team_id)


async def signed_in(request: web.Request) -> Viewer:
    """The person this request's session cookie names (checked, not expired, workspace still installed); else a
    redirect to sign in."""
    deps = request.app[DEPS]
    key = session.session_key(deps.settings)
    me = session.Session.of(session.unseal(key, "session", request.cookies.get(session.COOKIE), deps.now())
                            if key else None)
    if me is None or not await workspace_installed(deps, me.team_id):
        raise signin_redirect(request)
    return Viewer(request, me, await membership_in(request.app[BOLT].client, deps, me.team_id, me.user_id))





def render(request: web.Request, name: str, *, status: int = 200, **context: Any) -> web.Response:
    """A page rendered with the layout."""
    page = request.app[PAGES].get_template(name).render(path=request.path, **context)
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)
