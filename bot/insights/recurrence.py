"""Recurrence: a new incident offered as a possible recurrence of an earlier one, and people's answer to the offer.

An earlier incident is offered when it is public, was declared within the team's `recurrence.window_days` before the
new one, and either
- runs a model the new incident names (versions aside: `fraud@4.2` and `fraud@5` are the same model), or
- is in the same category and has a confirmed hypothesis whose statement shares a word with the new title.

Words are compared lower-cased, three characters or more, leaving out common English words ("the", "with", …); a
trailing "s" is dropped from words of five characters or more, so "labels" matches "label". Model matches come
first, then the most recent; at most `recurrence.offers` are offered. Every offer is an `incident_link` row; Confirm
or Not related decides it once, and the decision is chained in the new incident (`recurrence_confirmed`,
`recurrence_dismissed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import RetroError
from bot.insights.stats import model_names
from bot.loop_config import RecurrenceConfig
from bot.record import chain
from storage.loop_tables import IncidentLink
from storage.models import Hypothesis, Incident

OFFERED, CONFIRMED, DISMISSED = "offered", "confirmed", "dismissed"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
COMMON = frozenset({"and", "any", "are", "been", "but", "can", "did", "does", "for", "from", "had", "has", "have",
    "how", "into", "its", "not", "off", "out", "over", "than", "that", "the", "their", "then", "there", "these",
    "this", "those", "too", "under", "was", "were", "what", "when", "where", "which", "while", "who", "why", "will",
    "with", "without", "after", "before", "again", "all", "also", "being", "both", "down", "during", "each", "few",
    "more", "most", "nor", "only", "other", "own", "same", "some", "such", "very", "via", "our", "your", "they",
    "them", "you", "she", "his", "her", "him", "per", "new", "old"})


def words_of(text: str) -> set[str]:
    """The words two texts are compared by (see the module's description)."""
    out = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in COMMON:
            continue
        out.add(word[:-1] if len(word) >= 5 and word.endswith("s") and not word.endswith("ss") else word)
    return out


@dataclass(frozen=True)
class Link:
    """A confirmed recurrence: `incident_id` (declared at `declared_at`) recurred what `earlier_id` was about."""

    id: int
    team_id: str
    incident_id: int
    earlier_id: int
    reason: str  # model | category
    declared_at: datetime
    confirmed_at: datetime
    confirmed_by: str


@dataclass(frozen=True)
class Offer:
    """An earlier incident offered as the new one's possible origin, and why."""

    link_id: int
    earlier: Incident
    reason: str  # model | category
    shared: tuple[str, ...]  # the model names shared, or the words of the title the cause shares
    cause: str | None  # the confirmed hypothesis that matched (category offers)
    state: str = OFFERED
    decided_by: str | None = None


@dataclass(frozen=True)
class Decided:
    """The answer to an offer: `changed` is False when it had already been answered (by `link.decided_by`)."""

    link: IncidentLink
    incident: Incident
    earlier: Incident
    changed: bool


def _match(new: Incident, other: Incident, causes: list[str]) -> tuple[str, tuple[str, ...], str | None] | None:
    shared = sorted(model_names(new.models) & model_names(other.models))
    if shared:
        return "model", tuple(shared), None
    if other.category != new.category:
        return None
    title = words_of(new.title)
    for cause in causes:
        if common := sorted(title & words_of(cause)):
            return "category", tuple(common), cause
    return None


async def candidates(session: AsyncSession, incident: Incident, config: RecurrenceConfig
                     ) -> list[tuple[Incident, str, tuple[str, ...], str | None]]:
    """Earlier incidents the new one may recur, best first: (incident, reason, shared, cause)."""
    since = incident.created_at - timedelta(days=config.window_days)
    earlier = (await session.exec(select(Incident).where(
        Incident.team_id == incident.team_id, Incident.id != incident.id, col(Incident.private).is_(False),
        col(Incident.created_at) >= since, col(Incident.created_at) < incident.created_at))).all()
    if not earlier:
        return []
    causes: dict[int, list[str]] = {}
    for h in (await session.exec(select(Hypothesis).where(
            col(Hypothesis.incident_id).in_([i.id for i in earlier]), Hypothesis.verdict == "confirmed")
            .order_by(col(Hypothesis.number)))).all():
        causes.setdefault(h.incident_id, []).append(h.statement)
    found = [(other, *m) for other in earlier if (m := _match(incident, other, causes.get(other.id or 0, [])))]
    found.sort(key=lambda f: (f[1] != "model", -f[0].created_at.timestamp(), -(f[0].id or 0)))
    return found[:config.offers]


async def offer(session: AsyncSession, incident: Incident, config: RecurrenceConfig, *, now: datetime) -> list[Offer]:
    """Record an offer for each candidate not offered before (commits); an incident declared again offers nothing
    twice."""
    assert incident.id is not None
    found = await candidates(session, incident, config)
    if not found:
        return []
    known = set((await session.exec(select(IncidentLink.earlier_id)
                                    .where(IncidentLink.incident_id == incident.id))).all())
    offers = []
    for other, reason, shared, cause in found:
        if other.id in known:
            continue
        row = IncidentLink(team_id=incident.team_id, incident_id=incident.id, earlier_id=other.id or 0,
                           reason=reason, state=OFFERED, offered_at=now)
        session.add(row)
        await session.flush()
        offers.append(Offer(row.id or 0, other, reason, shared, cause))
    await session.commit()
    return offers


async def offers_of(session: AsyncSession, incident: Incident) -> list[Offer]:
    """Every offer made to an incident with its answer so far, as first offered (the match worked out again)."""
    rows = (await session.exec(select(IncidentLink, Incident).join(Incident, col(Incident.id) == col(
        IncidentLink.earlier_id)).where(IncidentLink.incident_id == incident.id).order_by(col(IncidentLink.id)))).all()
    causes: dict[int, list[str]] = {}
    for h in (await session.exec(select(Hypothesis).where(
            col(Hypothesis.incident_id).in_([other.id for _, other in rows]), Hypothesis.verdict == "confirmed")
            .order_by(col(Hypothesis.number)))).all():
        causes.setdefault(h.incident_id, []).append(h.statement)
    out = []
    for link, other in rows:
        _, shared, cause = _match(incident, other, causes.get(other.id or 0, [])) or (link.reason, (), None)
        out.append(Offer(link.id or 0, other, link.reason, shared, cause, link.state, link.decided_by))
    return out


async def decide(session: AsyncSession, *, link_id: int, team_id: str, channel_id: str, confirmed: bool,
                 actor: str, now: datetime) -> Decided:
    """Confirm or dismiss an offer once, from the new incident's channel, chaining the answer there (commits); a
    second answer changes nothing and says who answered first."""
    state = CONFIRMED if confirmed else DISMISSED
    found = await session.get(IncidentLink, link_id)
    later = await session.get(Incident, found.incident_id) if found is not None else None
    if found is None or later is None or found.team_id != team_id or later.channel_id != channel_id:
        raise RetroError("That recurrence offer is not one of this channel's.")
    won = (await session.exec(update(IncidentLink).where(
        col(IncidentLink.id) == link_id, col(IncidentLink.team_id) == team_id, col(IncidentLink.state) == OFFERED)
        .values(state=state, decided_at=now, decided_by=actor))).rowcount
    link = await session.get(IncidentLink, link_id, populate_existing=True)
    assert link is not None
    incident = await session.get(Incident, link.incident_id)
    earlier = await session.get(Incident, link.earlier_id)
    assert incident is not None and earlier is not None
    if won:
        said = "same model" if link.reason == "model" else "same category, matching confirmed cause"
        await chain.append(session, incident_id=link.incident_id, kind=f"recurrence_{state}", at=now, actor=actor,
                           text=f"#{earlier.channel_name} ({said})", key_event=confirmed,
                           data={"earlier_id": earlier.id, "earlier": earlier.channel_name, "reason": link.reason})
    await session.commit()
    return Decided(link, incident, earlier, bool(won))


async def confirmed_recurrences(session: AsyncSession, team_id: str) -> list[Link]:
    """Every confirmed recurrence of a workspace, in the order the later incidents were declared."""
    rows = await session.exec(select(IncidentLink, Incident.created_at)
                              .join(Incident, col(Incident.id) == col(IncidentLink.incident_id))
                              .where(IncidentLink.team_id == team_id, IncidentLink.state == CONFIRMED)
                              .order_by(col(Incident.created_at), col(IncidentLink.id)))
    out = []
    for link, declared in rows.all():
        assert link.id is not None and link.decided_at is not None
        out.append(Link(link.id, link.team_id, link.incident_id, link.earlier_id, link.reason, declared,
                        link.decided_at, link.decided_by or ""))
    return out

