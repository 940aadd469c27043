"""The figures of the trends page, from the same computations as `/retro stats` (bot.insights.stats, outcomes and
recurrence): the whole period, then each month of it, over the incidents the viewer may see."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.followup.verification import verified_actions
from bot.insights import outcomes, stats
from bot.insights.recurrence import confirmed_recurrences
from storage.models import Incident

PERIODS = {"90d": 90, "180d": 180, "365d": 365, "all": None}
MAX_MONTHS = 36
TREND_SPANS = ("detect", "insight", "mitigate", "resolve")


@dataclass
class Choice:
    """The period and category asked for; `notes` say what was not understood and set aside."""

    period: str = "90d"
    category: str = ""
    notes: list[str] = field(default_factory=list)


def parse_choice(args: Mapping[str, str], catalog: Catalog) -> Choice:
    """The trends page's filters from a query string; unknown values are ignored and noted."""
    c = Choice()
    period = args.get("period", "").strip().lower()
    if period in PERIODS:
        c.period = period
    elif period:
        c.notes.append(f"Period “{period[:40]}” is not one of {', '.join(PERIODS)}: the last 90 days are shown.")
    category = args.get("category", "").strip().lower()
    if category and catalog.category(category) is not None:
        c.category = category
    elif category:
        c.notes.append(f"Category “{category[:40]}” is not a configured category: every category is shown.")
    return c


@dataclass(frozen=True)
class Month:
    """One month's figures: the stats of the incidents declared in it, and how many of their actions were verified."""

    label: str
    stats: stats.Stats
    verified: int

    def median(self, key: str) -> float | None:
        """The month's median of one time-to-X, in seconds."""
        return next((s.median for s in self.stats.spans if s.key == key), None)

    @property
    def closure(self) -> float | None:
        """Action items done / action items of the month's incidents."""
        a = self.stats.actions
        return a["done"] / a["total"] if a.get("total") else None

    @property
    def verification(self) -> float | None:
        """Verified action items / action items done."""
        done = self.stats.actions.get("done", 0)
        return min(1.0, self.verified / done) if done else None


@dataclass(frozen=True)
class LinkRow:
    """A confirmed recurrence as the page lists it (the earlier incident only when the viewer may see it)."""

    later_id: int
    later_title: str
    earlier_id: int | None
    earlier_title: str | None
    reason: str
    confirmed_at: datetime


@dataclass(frozen=True)
class Trends:
    """Everything the trends page shows."""

    choice: Choice
    overall: stats.Stats
    after: outcomes.Outcomes
    months: list[Month]
    links: list[LinkRow]
    hidden: int
    months_cut: int


def period_of(choice: Choice, now: datetime, first: datetime | None) -> stats.Period:
    """The window asked for (all time: from the workspace's first incident)."""
    days = PERIODS[choice.period]
    if days is None:
        return stats.Period("all time", min(first or now, now), now)
    return stats.Period(f"{days} days", now - timedelta(days=days), now)


def month_windows(period: stats.Period, catalog: Catalog) -> list[tuple[str, datetime, datetime]]:
    """The calendar months (in the team's timezone) the period touches, each cut to the period: (label, since,
    until), both ends included, so that no incident falls in two months."""
    tz = catalog.tz
    local = period.since.astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    while start <= period.until:
        following = (start + timedelta(days=32)).replace(day=1)
        since = max(start, period.since)
        until = min(following - timedelta(microseconds=1), period.until)
        out.append((f"{start:%Y-%m}", since, until))
        start = following
    return out


async def _first_declared(session: AsyncSession, team_id: str) -> datetime | None:
    return (await session.exec(select(func.min(Incident.created_at)).where(Incident.team_id == team_id))).one()


async def _links(session: AsyncSession, team_id: str, counted: Collection[int], hidden: Collection[int]
                 ) -> list[LinkRow]:
    found = [link for link in await confirmed_recurrences(session, team_id) if link.incident_id in counted]
    ids = {link.incident_id for link in found} | {link.earlier_id for link in found}
    rows = (await session.exec(select(Incident).where(col(Incident.id).in_(ids)))).all() if ids else []
    titles = {i.id: i.title for i in rows}
    out = []
    for link in found:
        seen = link.earlier_id not in hidden and link.earlier_id in titles
        out.append(LinkRow(link.incident_id, titles.get(link.incident_id, ""), link.earlier_id if seen else None,
                           titles.get(link.earlier_id) if seen else None, link.reason, link.confirmed_at))
    return out


async def build(session: AsyncSession, *, catalog: Catalog, team_id: str, choice: Choice, hidden: Collection[int],
                hidden_at: Mapping[int, tuple[datetime, str]], now: datetime) -> Trends:
    """The trends of the incidents declared in the chosen period and category, leaving out `hidden` ones (private
    incidents the viewer is not in; `hidden_at` gives when each was declared and its category, to count them)."""
    period = period_of(choice, now, await _first_declared(session, team_id))
    category = choice.category or None
    overall = await stats.compute(session, catalog=catalog, team_id=team_id, period=period, category=category,
                                  now=now, hidden=hidden)
    after = await outcomes.compute_outcomes(session, catalog=catalog, team_id=team_id,
                                            incident_ids=overall.incident_ids, now=now)
    windows = month_windows(period, catalog)
    cut = max(0, len(windows) - MAX_MONTHS)
    verified = await verified_actions(session, team_id)
    months = []
    for label, since, until in windows[cut:]:
        found = await stats.compute(session, catalog=catalog, team_id=team_id, period=stats.Period(label, since, until),
                                    category=category, now=now, hidden=hidden)
        ids = set(found.incident_ids)
        months.append(Month(label, found, sum(1 for v in verified if v.incident_id in ids)))
    left_out = sum(1 for at, cat in hidden_at.values()
                   if period.since <= at <= period.until and (category is None or cat == category))
    links = await _links(session, team_id, set(overall.incident_ids), hidden)
    return Trends(choice, overall, after, months, links, left_out, cut)
