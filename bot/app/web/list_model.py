"""The incidents page's filters and rows: what the query string asks for (unknown values set aside with a note), the
incidents of the viewer's workspace that match and that they may see, and one row per incident."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.incident.lifecycle import STATUSES
from bot.insights import search
from bot.insights.stats import model_names
from bot.postmortem.measures import SPANS, Milestone, humanise, span_status
from storage.models import Incident

PER_PAGE = 50
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "all": None}
MAX_QUERY = 200
MAX_SEARCH = 5000  # search hits considered; the list pages them
_SPAN = {s.key: s for s in SPANS}


@dataclass
class Filters:
    """What the list is narrowed to; `notes` say which values were not understood and set aside."""

    status: str = ""
    severity: str = ""
    category: str = ""
    model: str = ""
    period: str = "all"
    q: str = ""
    page: int = 1
    notes: list[str] = field(default_factory=list)

    def query(self, page: int) -> dict[str, str]:
        """The query string of the same filters on another page."""
        asked = {"status": self.status, "severity": self.severity, "category": self.category, "model": self.model,
                 "period": self.period if self.period != "all" else "", "q": self.q}
        return {k: v for k, v in asked.items() if v} | ({"page": str(page)} if page > 1 else {})


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def parse_filters(args: Mapping[str, str], catalog: Catalog) -> Filters:
    """Filters from a query string; anything unknown is ignored and noted, never an error."""
    f = Filters()
    status = args.get("status", "").strip().lower()
    if status in STATUSES:
        f.status = status
    elif status:
        f.notes.append(f"Status “{_clip(status, 40)}” is not one of {', '.join(STATUSES)}: ignored.")
    severity = args.get("severity", "").strip()
    if severity.isdigit() and catalog.severity(int(severity)) is not None:
        f.severity = severity
    elif severity:
        f.notes.append(f"Severity “{_clip(severity, 40)}” is not a configured level: ignored.")
    category = args.get("category", "").strip().lower()
    if category and catalog.category(category) is not None:
        f.category = category
    elif category:
        f.notes.append(f"Category “{_clip(category, 40)}” is not a configured category: ignored.")
    f.model = " ".join(args.get("model", "").split())[:80]
    period = args.get("period", "").strip().lower() or "all"
    if period in PERIODS:
        f.period = period
    else:
        f.notes.append(f"Period “{_clip(period, 40)}” is not one of {', '.join(PERIODS)}: all time shown.")
    q = " ".join(args.get("q", "").split())
    if len(q) > MAX_QUERY:
        f.notes.append(f"The search was cut to its first {MAX_QUERY} characters.")
        q = q[:MAX_QUERY]
    if q and not search.terms_of(q):
        f.notes.append("Search words need two letters or more: the search was ignored.")
        q = ""
    f.q = q
    page = args.get("page", "1").strip()
    if page.isdigit() and 0 < int(page) < 1_000_000:
        f.page = int(page)
    elif page:
        f.notes.append("That page number is not a page: the first page is shown.")
    return f


def since(f: Filters, now: datetime) -> datetime | None:
    """The earliest declaration time the period allows (None: all time)."""
    days = PERIODS[f.period]
    return None if days is None else now - timedelta(days=days)


async def team_incidents(session: AsyncSession, team_id: str) -> list[Incident]:
    """Every incident of the workspace, newest first (the viewer's visibility is applied by the page)."""
    query = select(Incident).where(Incident.team_id == team_id)
    return list((await session.exec(query.order_by(col(Incident.created_at).desc(), col(Incident.id).desc()))).all())


def models_of(found: list[Incident]) -> list[str]:
    """The model names (without versions) these incidents name, for the filter's list."""
    return sorted({name for i in found for name in model_names(i.models)})


def check_model(f: Filters, known: list[str]) -> None:
    """Set aside a model no incident the viewer sees names (with a note)."""
    if f.model and f.model.split("@", 1)[0].lower() not in known:
        f.notes.append(f"No incident you can see names the model “{_clip(f.model, 40)}”: ignored.")
        f.model = ""


def narrowed(found: list[Incident], f: Filters, now: datetime) -> list[Incident]:
    """The incidents the filters keep (search aside), in the same order."""
    start = since(f, now)
    wanted = f.model.split("@", 1)[0].lower()
    return [i for i in found if (not f.status or i.status == f.status)
            and (not f.severity or i.severity == int(f.severity)) and (not f.category or i.category == f.category)
            and (start is None or i.created_at >= start) and (not wanted or wanted in model_names(i.models))]


async def searched(session: AsyncSession, found: list[Incident], f: Filters, team_id: str
                   ) -> tuple[list[Incident], dict[int, search.Hit]]:
    """The incidents among `found` (those the viewer may see) that the search words match, best first, with the hit
    of each: the search of `/retro search`, over private incidents too since `found` keeps only visible ones."""
    hits = await search.search(session, team_id=team_id, query=f.q, model=f.model or None,
                               category=f.category or None, limit=MAX_SEARCH, include_private=True)
    kept = {i.id for i in found}
    ranked = [h for h in hits if h.incident.id in kept]
    return [h.incident for h in ranked], {h.incident.id or 0: h for h in ranked}


@dataclass(frozen=True)
class Row:
    """One incident as the table shows it."""

    id: int
    title: str
    severity: str
    category: str
    status: str
    models: str
    declared: str
    declared_iso: str
    mitigate: str
    resolve: str
    private: bool
    matched: str


def _span(incident: Incident, key: str) -> str:
    times: dict[Milestone, datetime | None] = {
        "impact_started_at": incident.impact_started_at, "detected_at": incident.detected_at,
        "insight_at": incident.insight_at, "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at, "closed_at": incident.closed_at}
    seconds, _ = span_status(_SPAN[key], times)
    return humanise(seconds) if seconds is not None else ""


def row_of(incident: Incident, catalog: Catalog, hit: search.Hit | None) -> Row:
    """The table row of an incident (declared time in the team's timezone)."""
    sev, cat = catalog.severity(incident.severity), catalog.category(incident.category)
    local = incident.created_at.astimezone(catalog.tz)
    matched = f"{hit.where}: {_clip(hit.snippet, 200)}" if hit is not None else ""
    return Row(incident.id or 0, incident.title, sev.name if sev else str(incident.severity),
               cat.name if cat else incident.category, incident.status, ", ".join(incident.models),
               f"{local:%Y-%m-%d %H:%M} {local.tzname()}", local.isoformat(), _span(incident, "mitigate"),
               _span(incident, "resolve"), incident.private, matched)
