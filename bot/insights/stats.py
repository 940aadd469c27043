"""Metrics across incidents: counts, median and p90 of each time-to-X, and how action items fared."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.errors import UsageError
from bot.postmortem import review
from bot.postmortem.measures import SPANS, Milestone, percentile, span_status
from storage.models import ActionItem, Hypothesis, Incident

STATS_USAGE = "/retro stats [period=90d] [category=<id>]"
REGRESSION_WINDOW = timedelta(days=30)
_PERIOD = re.compile(r"^(\d{1,4})([dw])$")


@dataclass(frozen=True)
class Period:
    """A window of time ending now."""

    label: str
    since: datetime
    until: datetime


def parse_period(text: str, *, now: datetime) -> Period:
    """`90d`, `12w` (up to ten years)."""
    m = _PERIOD.match(text.strip().lower())
    days = int(m.group(1)) * (7 if m.group(2) == "w" else 1) if m else 0
    if not m or not 1 <= days <= 3650:
        raise UsageError(f"`period={text}` is not a period like 30d or 12w.", STATS_USAGE)
    return Period(m.group(0), now - timedelta(days=days), now)


@dataclass
class SpanStats:
    """One time-to-X across incidents, in seconds."""

    key: str
    label: str
    measured: int
    missing: int
    median: float | None
    p90: float | None


@dataclass
class Stats:
    """Everything `/retro stats` shows."""

    period: Period
    category: str | None
    incidents: int
    by_severity: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    spans: list[SpanStats]
    actions: dict[str, int] = field(default_factory=dict)
    regression_free: float | None = None
    reviews: dict[str, int] = field(default_factory=dict)
    incident_ids: list[int] = field(default_factory=list)  # the incidents counted (for bot.insights.outcomes)


def model_names(models: list[str]) -> set[str]:
    """Model names without their versions (`fraud@4.2` → `fraud`)."""
    return {m.split("@", 1)[0].lower() for m in models if m}


async def _insight_fallback(session: AsyncSession, ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    rows = await session.exec(select(Hypothesis.incident_id, func.min(Hypothesis.verdict_at))
                              .where(col(Hypothesis.incident_id).in_(ids), Hypothesis.verdict == "confirmed")
                              .group_by(col(Hypothesis.incident_id)))
    return {iid: at for iid, at in rows.all() if at is not None}


def _span_stats(found: list[Incident], insight: dict[int, datetime]) -> list[SpanStats]:
    out = []
    for spec in SPANS:
        values: list[float] = []
        for inc in found:
            times: dict[Milestone, datetime | None] = {
                "impact_started_at": inc.impact_started_at, "detected_at": inc.detected_at,
                "insight_at": inc.insight_at or insight.get(inc.id or 0), "mitigated_at": inc.mitigated_at,
                "resolved_at": inc.resolved_at, "closed_at": inc.closed_at}
            seconds, _ = span_status(spec, times)
            if seconds is not None:
                values.append(seconds)
        out.append(SpanStats(spec.key, spec.label, len(values), len(found) - len(values), percentile(values, 50),
                             percentile(values, 90)))
    return out


async def _regressions(session: AsyncSession, team_id: str, done: list[tuple[ActionItem, Incident]],
                       now: datetime) -> tuple[int, int, int]:
    """(eligible, clean, still in window) for done actions whose incident names a model."""
    relevant = [(a, i) for a, i in done if a.closed_at is not None and model_names(i.models)]
    if not relevant:
        return 0, 0, 0
    first = min(a.closed_at for a, _ in relevant if a.closed_at is not None)
    later = (await session.exec(select(Incident).where(Incident.team_id == team_id,
                                                       col(Incident.created_at) > first))).all()
    eligible = clean = pending = 0
    for action, inc in relevant:
        assert action.closed_at is not None
        end = action.closed_at + REGRESSION_WINDOW
        if end > now:
            pending += 1
            continue
        eligible += 1
        names = model_names(inc.models)
        if not any(o.id != inc.id and action.closed_at < o.created_at <= end and names & model_names(o.models)
                   for o in later):
            clean += 1
    return eligible, clean, pending


async def compute(session: AsyncSession, *, catalog: Catalog, team_id: str, period: Period,
                  category: str | None, now: datetime, hidden: Collection[int] = ()) -> Stats:
    """Stats of the incidents declared in the period (optionally one category), leaving out `hidden` ones (private
    incidents the reader is not a member of)."""
    if category is not None and catalog.category(category) is None:
        valid = ", ".join(c.id for c in catalog.categories)
        raise UsageError(f"Unknown category `{category}`. Valid categories: {valid}.", STATS_USAGE)
    query = select(Incident).where(Incident.team_id == team_id, col(Incident.created_at) >= period.since,
                                   col(Incident.created_at) <= period.until)
    if category is not None:
        query = query.where(Incident.category == category)
    found = [i for i in (await session.exec(query.order_by(col(Incident.created_at)))).all() if i.id not in hidden]
    ids = [i.id for i in found if i.id is not None]
    sev = Counter(i.severity for i in found)
    cats = Counter(i.category for i in found)
    by_severity = [(s.name, sev[s.level]) for s in catalog.severities if sev[s.level]]
    by_category = [(c.name, cats[c.id]) for c in catalog.categories if cats[c.id]]
    by_category += [(cid, n) for cid, n in sorted(cats.items()) if catalog.category(cid) is None]
    spans = _span_stats(found, await _insight_fallback(session, ids))
    by_id = {i.id: i for i in found}
    actions = list((await session.exec(select(ActionItem).where(col(ActionItem.incident_id).in_(ids)))).all()) \
        if ids else []
    today = now.astimezone(catalog.tz).date()

    def closed_on(a: ActionItem) -> date | None:
        return a.closed_at.astimezone(catalog.tz).date() if a.closed_at else None

    done = [a for a in actions if a.status == "done"]
    on_time = sum(1 for a in done if (closed_on(a) or today) <= a.due)
    open_rows = [a for a in actions if a.status == "open"]
    eligible, clean, pending = await _regressions(session, team_id, [(a, by_id[a.incident_id]) for a in done], now)
    counts = {"total": len(actions), "done": len(done), "on_time": on_time, "late": len(done) - on_time,
              "overdue": sum(1 for a in open_rows if a.due < today), "open": len(open_rows),
              "dropped": sum(1 for a in actions if a.status == "dropped"), "regression_eligible": eligible,
              "regression_clean": clean, "regression_pending": pending}
    reviews = Counter(state.status for state in (await review.states(session, found)).values())
    return Stats(period, category, len(found), by_severity, by_category, spans, counts,
                 clean / eligible if eligible else None, {s: reviews[s] for s in review.STATUSES if reviews[s]}, ids)
