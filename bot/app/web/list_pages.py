"""The incidents page, /web/: every incident of the viewer's workspace they may see, filtered and searched, fifty
to a page."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from bot.app.web import list_model
from bot.app.web.pages import render, signed_in
from bot.app.web.session import PATH
from bot.incident.lifecycle import STATUSES
from bot.insights import search


async def incidents_page(request: web.Request) -> web.StreamResponse:
    """GET /web/: the filter form, the table and its pages."""
    viewer = await signed_in(request)
    deps = viewer.deps
    f = list_model.parse_filters(request.query, deps.catalog)
    async with deps.session() as s:
        every = await viewer.visible(await list_model.team_incidents(s, viewer.me.team_id))
        models = list_model.models_of(every)
        list_model.check_model(f, models)
        found = list_model.narrowed(every, f, deps.now())
        hits: dict[int, search.Hit] = {}
        if f.q:
            found, hits = await list_model.searched(s, found, f, viewer.me.team_id)
    pages = max(1, -(-len(found) // list_model.PER_PAGE))
    if f.page > pages:
        f.notes.append(f"There are only {pages} page(s): the last one is shown.")
        f.page = pages
    shown = found[(f.page - 1) * list_model.PER_PAGE:f.page * list_model.PER_PAGE]
    rows = [list_model.row_of(i, deps.catalog, hits.get(i.id or 0)) for i in shown]

    def link(page: int) -> str:
        query = urlencode(f.query(page))
        return f"{PATH}/" + (f"?{query}" if query else "")

    filtered = any(v for k, v in f.query(1).items())
    return render(request, "incidents.html.j2", me=viewer.me, f=f, rows=rows, total=len(found), every=len(every),
                  pages=pages, prev=link(f.page - 1) if f.page > 1 else None,
                  next=link(f.page + 1) if f.page < pages else None, filtered=filtered, statuses=STATUSES,
                  severities=deps.catalog.severities, categories=deps.catalog.categories, models=models,
                  periods=list(list_model.PERIODS), first=(f.page - 1) * list_model.PER_PAGE + 1)


def routes() -> list[web.RouteDef]:
    """This module's routes."""
    return [web.get(f"{PATH}/", incidents_page)]
