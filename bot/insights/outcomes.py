"""How corrective actions fared, for `/retro stats`: the share of verified mitigations that held, how often
incidents recurred (by model and by category), and how long verification took.

A verified action *held* over a horizon (each of the team's `recurrence.held_days`) when no incident declared after
its verification and within the horizon was confirmed as a recurrence of the action's incident. It counts once the
horizon has passed, or as soon as such a recurrence is confirmed (it did not hold); until then it is pending. An
action verified again after a regression counts from its latest verification.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.followup.verification import VerifiedAction, verified_actions
from bot.insights.recurrence import Link, confirmed_recurrences
from bot.insights.stats import model_names
from bot.postmortem.measures import percentile
from storage.models import Incident


@dataclass(frozen=True)
class Held:
    """Verified actions over one horizon: `held` of `counted` (the horizon passed or a recurrence came), `pending`."""

    days: int
    counted: int
    held: int
    pending: int

    @property
    def share(self) -> float | None:
        """held / counted (None when nothing counts yet)."""
        return self.held / self.counted if self.counted else None


@dataclass(frozen=True)
class Rate:
    """Incidents of one model or category, and how many of them were confirmed recurrences."""

    name: str
    incidents: int
    recurrences: int


@dataclass(frozen=True)
class Outcomes:
    """The figures `/retro stats` adds about what happened after the incidents of its period."""

    verified: int
    held: list[Held]
    recurrences: int
    by_model: list[Rate]
    by_category: list[Rate]
    to_verify_median: float | None  # seconds from an action's creation to its verification


def held_over(actions: Sequence[VerifiedAction], links: Sequence[Link], days: int, now: datetime) -> Held:
    """`Held` of these actions over `days`, against these confirmed recurrences."""
    recurred: dict[int, list[datetime]] = {}
    for link in links:
        recurred.setdefault(link.earlier_id, []).append(link.declared_at)
    span = timedelta(days=days)
    counted = held = pending = 0
    for action in actions:
        start, end = action.verified_at, action.verified_at + span
        if any(start < at <= end for at in recurred.get(action.incident_id, [])):
            counted += 1
        elif end <= now:
            counted += 1
            held += 1
        else:
            pending += 1
    return Held(days, counted, held, pending)


def _rates(counts: Counter[str], recurred: Counter[str]) -> list[Rate]:
    rows = [Rate(name, n, recurred[name]) for name, n in counts.items()]
    return sorted(rows, key=lambda r: (-r.recurrences, -r.incidents, r.name))


async def compute_outcomes(session: AsyncSession, *, catalog: Catalog, team_id: str, incident_ids: Sequence[int],
                           now: datetime) -> Outcomes:
    """The figures over the incidents `/retro stats` counted (its period, category and the reader's visibility)."""
    ids = set(incident_ids)
    found = (await session.exec(select(Incident).where(col(Incident.id).in_(ids)))).all() if ids else []
    actions = [a for a in await verified_actions(session, team_id) if a.incident_id in ids]
    links = await confirmed_recurrences(session, team_id)
    held = [held_over(actions, links, days, now) for days in sorted(set(catalog.recurrence.held_days))]
    recurring = {link.incident_id for link in links}
    models, categories, m_rec, c_rec = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    for inc in found:
        cat = catalog.category(inc.category)
        label = cat.name if cat else inc.category
        categories[label] += 1
        c_rec[label] += inc.id in recurring
        for name in model_names(inc.models):
            models[name] += 1
            m_rec[name] += inc.id in recurring
    waits = [(a.verified_at - a.created_at).total_seconds() for a in actions]
    return Outcomes(len(actions), held, sum(1 for i in found if i.id in recurring), _rates(models, m_rec),
                    _rates(categories, c_rec), percentile(waits, 50))
