"""Finding past incidents: full-text search (PostgreSQL text search, a portable word match elsewhere) and
incidents similar to the current one (same model or category) with their confirmed causes and actions.

Private incidents are never listed: their existence and content stay inside their channel.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import UsageError
from bot.insights.stats import model_names
from storage.models import ActionItem, Evidence, Hypothesis, Incident, TimelineEntry

SEARCH_USAGE = "/retro search <words> [model=<name>] [category=<id>]"
MAX_HITS = 10
_WORD = re.compile(r"[\w.@/-]{2,}", re.UNICODE)
_PG_QUERY = text("""
WITH docs AS (
  SELECT id AS incident_id, title || ' ' || description AS body FROM incident WHERE id IN :ids
  UNION ALL SELECT incident_id, coalesce(text, '') FROM timeline_entry WHERE kind = 'note' AND incident_id IN :ids
  UNION ALL SELECT incident_id, ref || ' ' || note FROM evidence WHERE incident_id IN :ids
  UNION ALL SELECT incident_id, statement || ' ' || coalesce(test_plan, '') || ' ' || coalesce(verdict_note, '')
    FROM hypothesis WHERE incident_id IN :ids
), agg AS (
  SELECT incident_id, to_tsvector('english', string_agg(body, ' ')) AS v FROM docs GROUP BY incident_id
)
SELECT incident_id, ts_rank(v, websearch_to_tsquery('english', :q)) AS rank FROM agg
WHERE v @@ websearch_to_tsquery('english', :q) ORDER BY rank DESC, incident_id DESC LIMIT :limit
""").bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class Hit:
    """A matching incident and the first line of it that matched."""

    incident: Incident
    score: float
    where: str
    snippet: str


@dataclass
class Similar:
    """A past incident related to the current one, with what was learned from it."""

    incident: Incident
    shared_models: list[str]
    same_category: bool
    causes: list[str] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)


async def _candidates(session: AsyncSession, team_id: str, model: str | None, category: str | None,
                      include_private: bool = False) -> list[Incident]:
    query = select(Incident).where(Incident.team_id == team_id)
    if not include_private:
        query = query.where(col(Incident.private).is_(False))
    if category:
        query = query.where(Incident.category == category.lower())
    found = list((await session.exec(query)).all())
    if model:
        wanted = model.split("@", 1)[0].lower()
        found = [i for i in found if wanted in model_names(i.models)]
    return found


async def _sources(session: AsyncSession, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(where, text) of each searchable piece, by incident."""
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for inc in (await session.exec(select(Incident).where(col(Incident.id).in_(ids)))).all():
        out[inc.id or 0].append(("title", f"{inc.title} {inc.description}".strip()))
    notes = await session.exec(select(TimelineEntry.incident_id, TimelineEntry.text).where(
        col(TimelineEntry.incident_id).in_(ids), TimelineEntry.kind == "note").order_by(col(TimelineEntry.seq)))
    for iid, note in notes.all():
        out[iid].append(("note", note or ""))
    for e in (await session.exec(select(Evidence).where(col(Evidence.incident_id).in_(ids))
                                 .order_by(col(Evidence.number)))).all():
        out[e.incident_id].append((f"E{e.number}", f"{e.ref} {e.note}".strip()))
    for h in (await session.exec(select(Hypothesis).where(col(Hypothesis.incident_id).in_(ids))
                                 .order_by(col(Hypothesis.number)))).all():
        body = " ".join(x for x in (h.statement, h.test_plan, h.verdict_note) if x)
        out[h.incident_id].append((f"H{h.number}", body))
    return out


def terms_of(query: str) -> list[str]:
    """The lower-cased words of a query (at least two characters each)."""
    return [w.lower().strip(".-/") for w in _WORD.findall(query) if w.strip(".-/")]


def _portable_rank(pieces: list[tuple[str, str]], terms: list[str]) -> float:
    """Every term must start a word somewhere in the incident; the score counts matches, titles twice."""
    score = 0.0
    for term in terms:
        pattern = re.compile(r"(?<![\w])" + re.escape(term), re.IGNORECASE)
        found = sum(len(pattern.findall(body)) * (2 if where == "title" else 1) for where, body in pieces)
        if not found:
            return 0.0
        score += found
    return score


def _snippet(pieces: list[tuple[str, str]], terms: list[str]) -> tuple[str, str]:
    """The piece that contains the most query words (the earliest among equals)."""
    if not pieces:
        return "title", ""
    return max(pieces, key=lambda p: sum(t in p[1].lower() for t in terms))


async def search(session: AsyncSession, *, team_id: str, query: str, model: str | None = None,
                 category: str | None = None, limit: int = MAX_HITS, include_private: bool = False) -> list[Hit]:
    """Incidents whose titles, notes, evidence or hypotheses match every word, best first (public ones only unless
    `include_private`: the caller then keeps only those the asker may see)."""
    terms = terms_of(query)
    if not terms:
        raise UsageError("Give at least one word to search for.", SEARCH_USAGE)
    candidates = {i.id: i for i in await _candidates(session, team_id, model, category, include_private)
                  if i.id is not None}
    if not candidates:
        return []
    ids = list(candidates)
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = _PG_QUERY  # a text() query; sqlmodel's exec() overloads only name ORM statements
        rows = (await session.exec(statement, params={"ids": ids, "q": query, "limit": limit})).all()
        ranked = [(int(iid), float(rank)) for iid, rank in rows]
        sources = await _sources(session, [iid for iid, _ in ranked]) if ranked else {}
    else:
        sources = await _sources(session, ids)
        scored = [(iid, _portable_rank(pieces, terms)) for iid, pieces in sources.items()]
        ranked = sorted(((i, s) for i, s in scored if s > 0), key=lambda p: (-p[1], -p[0]))[:limit]
    hits = []
    for iid, score in ranked:
        where, body = _snippet(sources.get(iid, []), terms)
        hits.append(Hit(candidates[iid], score, where, body))
    return hits


async def similar(session: AsyncSession, incident: Incident, *, limit: int = 5) -> list[Similar]:
    """Earlier incidents on the same model (first) or in the same category, with confirmed causes and actions."""
    mine = model_names(incident.models)
    earlier = (await session.exec(select(Incident).where(
        Incident.team_id == incident.team_id, Incident.id != incident.id, col(Incident.private).is_(False),
        col(Incident.created_at) < incident.created_at))).all()
    related = []
    for other in earlier:
        shared = sorted(mine & model_names(other.models))
        if shared or other.category == incident.category:
            related.append(Similar(other, shared, other.category == incident.category))
    related.sort(key=lambda s: (-len(s.shared_models), not s.same_category, -s.incident.created_at.timestamp()))
    related = related[:limit]
    ids = [s.incident.id for s in related]
    if not ids:
        return []
    causes = (await session.exec(select(Hypothesis).where(col(Hypothesis.incident_id).in_(ids),
                                                          Hypothesis.verdict == "confirmed")
                                 .order_by(col(Hypothesis.number)))).all()
    actions = (await session.exec(select(ActionItem).where(col(ActionItem.incident_id).in_(ids))
                                  .order_by(col(ActionItem.number)))).all()
    by_id = {s.incident.id: s for s in related}
    for h in causes:
        by_id[h.incident_id].causes.append(h.statement)
    for a in actions:
        by_id[a.incident_id].actions.append(a)
    return related
