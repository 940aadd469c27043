"""The incident pages of the web view: /web/incidents/{id} (everything recorded, the full timeline a page at a
time), its postmortem, and its files. Each request checks again that the person may see the incident."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.app.web import incident_files as files
from bot.app.web.incident_record import draft_text, draft_versions, people
from bot.app.web.incident_view import build_view, story_document
from bot.app.web.pages import BOLT, DEPS, NAMES, Viewer, headers_for, render, signed_in
from bot.app.web.session import PATH
from bot.postmortem import document
from bot.postmortem.picture import svg
from bot.postmortem.timeline_picture import layout
from storage.models import Incident

BASE = f"{PATH}/incidents/{{id}}"
# Bundles and notebooks are built on request, whole: two at a time per process, the others wait their turn.
BUILDS = asyncio.Semaphore(2)


async def _visible(request: web.Request) -> tuple[Viewer, Incident | None]:
    """The signed-in person (else the redirect to sign in) and the incident, when they may see it."""
    viewer = await signed_in(request)
    try:
        return viewer, await viewer.incident(request.match_info["id"])
    except web.HTTPNotFound:
        return viewer, None


def not_found(request: web.Request, viewer: Viewer) -> web.Response:
    """The one answer for a missing incident, another workspace's and a private one they are not in."""
    return render(request, "not_found.html.j2", status=404, me=viewer.me)


def _number(value: str | None, default: int = 1) -> int:
    return int(value) if value is not None and value.isdigit() and len(value) < 9 else default


async def incident_page(request: web.Request) -> web.StreamResponse:
    """Everything recorded about one incident."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    deps = request.app[DEPS]
    async with deps.session() as s:
        view = await build_view(s, incident, deps.catalog, _number(request.query.get("page")),
                                ask=lambda ids: request.app[NAMES].ask(request.app[BOLT], deps, incident.team_id,
                                                                       ids))
    return render(request, "incident.html.j2", me=viewer.me, v=view)


async def postmortem_page(request: web.Request) -> web.StreamResponse:
    """The postmortem as it would be drafted now, or a stored draft (?version=N)."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    deps = request.app[DEPS]
    version = _number(request.query.get("version"), 0)
    async with deps.session() as s:
        drafts = await draft_versions(s, incident.id or 0)
        stored = await draft_text(s, incident.id or 0, version) if version else None
    if version and stored is None:
        return not_found(request, viewer)
    html = files.html_of(stored.markdown) if stored is not None else await files.postmortem_html(deps, incident)
    return render(request, "postmortem.html.j2", me=viewer.me, incident=incident, html=html, drafts=drafts,
                  version=version)


async def bundle_zip(request: web.Request) -> web.StreamResponse:
    """The export bundle, zipped (what `retro export` writes; `retro verify` checks it once unzipped)."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    async with BUILDS, files.bundle_file(request.app[DEPS], incident) as (name, path):
        # Sent before the middleware sees the answer: the strict headers go with it from here.
        resp = web.StreamResponse(headers={**headers_for(request.app[DEPS]), "Content-Type": "application/zip",
                                           "Content-Disposition": f'attachment; filename="{name}"'})
        resp.content_length = path.stat().st_size
        await resp.prepare(request)
        await files.send_file(resp, path)
    await resp.write_eof()
    return resp


async def notebook(request: web.Request) -> web.StreamResponse:
    """The incident's notebook (as in its bundle)."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    async with BUILDS:
        body = await files.notebook(request.app[DEPS], incident)
    return web.Response(body=body, content_type="application/x-ipynb+json", headers={
        "Content-Disposition": f'attachment; filename="{incident.channel_name}.ipynb"'})


async def timeline_svg(request: web.Request) -> web.StreamResponse:
    """The timeline picture alone, as SVG."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    deps = request.app[DEPS]
    async with deps.session() as s:
        doc = await story_document(s, incident, deps.catalog)
        doc = document.with_people(doc, await people(s, incident, set(document.user_ids(doc)), []))
    return web.Response(text=svg(layout(doc)), content_type="image/svg+xml")


async def chart_png(request: web.Request) -> web.StreamResponse:
    """A chart a collector kept with evidence E<n> (?k= picks one of several)."""
    viewer, incident = await _visible(request)
    if incident is None:
        return not_found(request, viewer)
    png = await files.chart(request.app[DEPS], incident, _number(request.match_info["n"], 0),
                            _number(request.query.get("k"), 0))
    if png is None:
        return not_found(request, viewer)
    return web.Response(body=png, content_type="image/png")


def routes() -> list[web.RouteDef]:
    """The incident page, its postmortem and its files."""
    return [web.get(BASE, incident_page), web.get(f"{BASE}/postmortem", postmortem_page),
            web.get(f"{BASE}/bundle.zip", bundle_zip), web.get(f"{BASE}/incident.ipynb", notebook),
            web.get(f"{BASE}/timeline.svg", timeline_svg),
            web.get(f"{BASE}/evidence/{{n:[0-9]+}}/chart.png", chart_png)]
