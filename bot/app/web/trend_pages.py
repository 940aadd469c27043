"""The trends page (/web/stats) and the pattern library (/web/patterns)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlmodel import col, select

from bot.app.web import pattern_view, trend_model, trend_view
from bot.app.web.pages import Viewer, render, signed_in
from bot.app.web.session import PATH
from bot.incident import incidents
from bot.insights import patterns
from storage.models import Incident


async def _hidden(viewer: Viewer) -> dict[int, tuple[datetime, str]]:
    """The workspace's private incidents the viewer is not in: id -> (declared at, category)."""
    async with viewer.deps.session() as s:
        private = await incidents.private_in_team(s, viewer.me.team_id)
    return {i.id: (i.created_at, i.category) for i in private if i.id is not None and not await viewer.can_see(i)}


async def stats_page(request: web.Request) -> web.StreamResponse:
    """GET /web/stats: times to detect, mitigate, resolve and insight per month, action item rates, recurrence, by
    model and category."""
    viewer = await signed_in(request)
    deps = viewer.deps
    choice = trend_model.parse_choice(request.query, deps.catalog)
    hidden = await _hidden(viewer)
    async with deps.session() as s:
        t = await trend_model.build(s, catalog=deps.catalog, team_id=viewer.me.team_id, choice=choice,
                                    hidden=set(hidden), hidden_at=hidden, now=deps.now())
    links = [(link, link.confirmed_at.astimezone(deps.catalog.tz)) for link in t.links]
    return render(request, "stats.html.j2", me=viewer.me, t=t, figures=trend_view.figures(t),
                  spans=trend_view.span_rows(t), held=trend_view.held_rows(t),
                  scope=trend_view.scope_label(t, deps.catalog), links=links, periods=list(trend_model.PERIODS),
                  categories=deps.catalog.categories)


async def patterns_page(request: web.Request) -> web.StreamResponse:
    """GET /web/patterns: every card of the workspace's pattern library."""
    viewer = await signed_in(request)
    deps = viewer.deps
    async with deps.session() as s:
        found = await patterns.cards(s, viewer.me.team_id)
        ids = {c.pattern.incident_id for c in found}
        sources = {i.id: i for i in (await s.exec(select(Incident).where(col(Incident.id).in_(ids)))).all()} \
            if ids else {}
    views = []
    for c in found:
        source = sources.get(c.pattern.incident_id)
        views.append(pattern_view.card_view(c, deps.catalog,
                                            source if source is not None and await viewer.can_see(source) else None))
    validated = sum(1 for c in found if c.validated_at is not None)
    return render(request, "patterns.html.j2", me=viewer.me, cards=views, validated=validated)


def routes() -> list[web.RouteDef]:
    """This module's routes."""
    return [web.get(f"{PATH}/stats", stats_page), web.get(f"{PATH}/patterns", patterns_page)]
