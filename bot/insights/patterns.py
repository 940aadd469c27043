"""The library of validated patterns: a confirmed cause, how it was tested and the mitigations that fixed it, saved
from one incident as a card (P1, P2… per workspace) and offered to the next incidents that look like it.

Tags. `category` is the incident's; `models` are the incident's model names without versions (`fraud@4.2` →
`fraud`); `symptoms` are the words of the incident's title and of the hypothesis statement: lowercased runs of
letters and digits of at least three characters, not all digits, without common English words and words every
incident has ("model", "incident"…), a trailing `s` dropped from words of five letters or more (as recurrence offers
compare words), the first 20 distinct ones in the order they appear.

Validated. A card is validated once one of its mitigations was verified (every verification stage passed), has not
regressed since, and no incident declared after that verification was confirmed as a recurrence of the card's
incident. The
state is recomputed whenever the library is read (the column keeps the last value computed), so a regression or a
confirmed recurrence withdraws it, and a later verification grants it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.errors import ConflictError, NotFoundError, UsageError
from bot.followup import action_items
from bot.followup.verification import VerifiedAction, verified_actions
from bot.incident import hypotheses
from bot.insights.recurrence import COMMON, confirmed_recurrences
from bot.insights.stats import model_names
from bot.record import chain
from storage.loop_tables import ActionCheck, ActionVerification, Pattern, PatternUse
from storage.models import ActionItem, Evidence, Incident
from storage.safetext import storable

SAVE_USAGE = '/retro pattern save H<n> [A<m> …] name="<what the pattern is called>"'
MAX_NAME = 150
MAX_SYMPTOMS = 20
_TOKEN = re.compile(r"[a-z0-9]+")
# Words every incident has, beyond the common English words recurrence offers ignore.
_GENERIC = frozenset({"incident", "model", "issue", "problem", "still", "since", "just", "now", "about"})


def symptoms_of(*texts: str) -> list[str]:
    """The symptom words of some texts (see the module's docstring), in the order they first appear."""
    out: list[str] = []
    for text in texts:
        for found in _TOKEN.findall(text.lower()):
            word = found[:-1] if len(found) >= 5 and found.endswith("s") and not found.endswith("ss") else found
            if len(found) >= 3 and not word.isdigit() and found not in COMMON and word not in _GENERIC \
                    and word not in out:
                out.append(word)
                if len(out) == MAX_SYMPTOMS:
                    return out
    return out


@dataclass(frozen=True)
class Card:
    """A pattern as the library shows it: the row, where it was saved from, and since when it is validated."""

    pattern: Pattern
    source: str  # the channel name of the incident it was saved from
    validated_at: datetime | None

    @property
    def number(self) -> int:
        """P<number>."""
        return self.pattern.number


def validated_since(mitigations: Iterable[int], verified: dict[int, VerifiedAction],
                    recurred: Sequence[datetime]) -> datetime | None:
    """When a card became validated: the earliest verification of one of its mitigations (action ids) that has not
    regressed and after which no incident confirmed as a recurrence of the card's incident was declared
    (`recurred`: when each was declared); None while no mitigation qualifies."""
    times = [v.verified_at for a in mitigations if (v := verified.get(a)) is not None and v.regressed_at is None
             and not any(r > v.verified_at for r in recurred)]
    return min(times) if times else None


async def _recurrences(session: AsyncSession, team_id: str) -> dict[int, list[datetime]]:
    """When each earlier incident of the workspace recurred: the declaration times of the later incidents confirmed
    as its recurrences (earlier incident id -> times)."""
    out: dict[int, list[datetime]] = {}
    for link in await confirmed_recurrences(session, team_id):
        out.setdefault(link.earlier_id, []).append(link.declared_at)
    return out


async def cards(session: AsyncSession, team_id: str) -> list[Card]:
    """Every card of a workspace, P1 first, each with its validation recomputed (a change is stored; commits)."""
    rows = (await session.exec(select(Pattern, Incident.channel_name)
                               .join(Incident, col(Incident.id) == col(Pattern.incident_id))
                               .where(Pattern.team_id == team_id).order_by(col(Pattern.number)))).all()
    if not rows:
        return []
    verified = {v.action_id: v for v in await verified_actions(session, team_id)}
    recurred = await _recurrences(session, team_id)
    checks = await _checks_by_action(session, [int(m["action_id"]) for p, _ in rows for m in p.mitigations])
    out: list[Card] = []
    changed = False
    for pattern, channel_name in rows:
        current = [{**m, "checks": checks.get(int(m["action_id"]), [])} for m in pattern.mitigations]
        if current != pattern.mitigations:  # checks recorded since the card was saved
            pattern.mitigations, changed = current, True
            session.add(pattern)
        since = validated_since((int(m["action_id"]) for m in pattern.mitigations), verified,
                                recurred.get(pattern.incident_id, []))
        if since != pattern.validated_at:
            pattern.validated_at, changed = since, True
            session.add(pattern)
        out.append(Card(pattern, channel_name, since))
    if changed:
        await session.commit()
    return out


async def card(session: AsyncSession, team_id: str, number: int) -> Card:
    """P<number> of the workspace, or an error naming the cards that exist."""
    found = await cards(session, team_id)
    hit = next((c for c in found if c.number == number), None)
    if hit is None:
        known = f"P1–P{found[-1].number}" if len(found) > 1 else "P1" if found else "none yet"
        raise NotFoundError(f"No pattern P{number} in this workspace (known: {known}).")
    return hit


def _checks(rows: Sequence[ActionCheck]) -> list[dict[str, Any]]:
    return [{"checked_at": iso(c.checked_at), "method": c.method, "outcome": c.outcome, "scheduled": c.scheduled,
             "spec": c.spec, "stage": c.stage, "summary": c.summary} for c in rows]


async def _checks_by_action(session: AsyncSession, action_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every check of these action items, the first first, by action id."""
    if not action_ids:
        return {}
    rows = (await session.exec(select(ActionCheck).where(col(ActionCheck.action_id).in_(sorted(set(action_ids))))
                               .order_by(col(ActionCheck.checked_at), col(ActionCheck.id)))).all()
    out: dict[int, list[ActionCheck]] = {}
    for row in rows:
        out.setdefault(row.action_id, []).append(row)
    return {a: _checks(found) for a, found in out.items()}


async def _mitigation(session: AsyncSession, item: ActionItem) -> dict[str, Any]:
    """An action item with its rollback and every check it had, the first first."""
    ver = await session.get(ActionVerification, item.id)
    checks = (await session.exec(select(ActionCheck).where(ActionCheck.action_id == item.id)
                                 .order_by(col(ActionCheck.checked_at), col(ActionCheck.id)))).all()
    return {"action_id": item.id, "checks": _checks(checks), "kind": item.kind, "number": item.number,
            "rollback": ver.rollback if ver else None, "title": item.title}


async def _items(session: AsyncSession, incident_id: int, hypothesis: int, numbers: Sequence[int]) -> list[ActionItem]:
    """The action items named (A<m>…), or, when none is named, the ones added to test or fix the hypothesis."""
    if not numbers:
        found = await action_items.listing(session, incident_id)
        return [a for a in found if a.hypothesis == hypothesis and a.status != "dropped"]
    items = [await action_items.get(session, incident_id, n) for n in dict.fromkeys(numbers)]
    dropped = [f"A{a.number}" for a in items if a.status == "dropped"]
    if dropped:
        raise ConflictError(f"{', '.join(dropped)} was dropped: a pattern keeps only mitigations that were tried.")
    return items


async def save(session: AsyncSession, *, incident: Incident, hypothesis: int, actions: Sequence[int], name: str,
               actor: str, now: datetime) -> Pattern:
    """Save a confirmed hypothesis of the incident, and its mitigations with their checks, as the next card of the
    workspace; recorded in the incident's chain (`pattern_saved`); commits."""
    name = storable(" ".join(name.split()))
    if not name:
        raise UsageError('Name the pattern with name="…".', SAVE_USAGE)
    if len(name) > MAX_NAME:
        raise UsageError(f"The name is longer than {MAX_NAME} characters.", SAVE_USAGE)
    if incident.private:
        raise ConflictError("This incident is private: the pattern library is shared with the whole workspace, so a "
                            "private incident's causes are not saved to it.")
    assert incident.id is not None
    hyp = await hypotheses.get(session, incident.id, hypothesis)
    if hyp.verdict != "confirmed":
        raise ConflictError(f"H{hypothesis} is {hyp.verdict}: only a confirmed cause becomes a pattern "
                            f"(`/retro confirm H{hypothesis} E<n> …` first).")
    for earlier in (await session.exec(select(Pattern).where(Pattern.incident_id == incident.id))).all():
        if earlier.hypothesis.get("number") == hypothesis:
            raise ConflictError(f"H{hypothesis} is already pattern P{earlier.number} ({earlier.name}).")
    items = await _items(session, incident.id, hypothesis, actions)
    kinds = sorted({e.kind for e in (await session.exec(select(Evidence).where(
        Evidence.incident_id == incident.id, col(Evidence.number).in_(hyp.verdict_evidence)))).all()})
    top = (await session.exec(select(func.max(Pattern.number)).where(Pattern.team_id == incident.team_id))).one()
    row = Pattern(team_id=incident.team_id, number=(top or 0) + 1, name=name, category=incident.category,
                  models=sorted(model_names(incident.models)), symptoms=symptoms_of(incident.title, hyp.statement),
                  hypothesis={"criteria": hyp.criteria, "evidence_kinds": kinds, "expected": hyp.expected,
                              "number": hyp.number, "statement": hyp.statement, "test_plan": hyp.test_plan,
                              "verdict_note": hyp.verdict_note},
                  mitigations=[await _mitigation(session, a) for a in items], incident_id=incident.id,
                  created_by=actor, created_at=now)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # another card took the number at the same moment
        await session.rollback()
        raise ConflictError("Another pattern was saved at the same moment; run the command again.") from None
    assert row.id is not None
    session.add(PatternUse(team_id=incident.team_id, pattern_id=row.id, incident_id=incident.id, how="created", at=now))
    await chain.append(session, incident_id=incident.id, kind="pattern_saved", at=now, actor=actor, text=name,
                       data={"actions": [a.number for a in items], "hypothesis": hypothesis, "number": row.number})
    await session.commit()
    return row


def _model_names(models: Iterable[str]) -> set[str]:
    return model_names(list(models))


def score(c: Card, *, category: str | None, models: Iterable[str], words: Sequence[str]) -> tuple[int, int, int]:
    """How well a card fits: (shared models, same category, shared symptom or name words)."""
    shared_models = len(_model_names(c.pattern.models) & _model_names(models))
    own = set(c.pattern.symptoms) | set(symptoms_of(c.pattern.name))
    return shared_models, int(category is not None and c.pattern.category == category), len(own & set(words))


def suggestions(found: Sequence[Card], incident: Incident, limit: int) -> list[Card]:
    """The cards to offer a new incident, best first: weight 3 per shared model, 2 for the same category, 1 per
    shared symptom word of its title; a card needs 3 or more (a shared model, or the category and a word, or three
    words). Ties go to validated cards, then to the newest."""
    words = symptoms_of(incident.title)
    ranked = []
    for c in found:
        if c.pattern.incident_id == incident.id:
            continue
        m, cat, w = score(c, category=incident.category, models=incident.models, words=words)
        weight = 3 * m + 2 * cat + w
        if weight >= 3:
            ranked.append((-weight, c.validated_at is None, -c.number, c))
    return [c for *_, c in sorted(ranked, key=lambda r: r[:3])][:limit]


def library(found: Sequence[Card], *, category: str | None, model: str | None, words: Sequence[str]) -> list[Card]:
    """`/retro patterns`: the cards in the category and on the model asked (when asked), sharing a word with the
    words asked (when any), the most shared words first, then validated ones, then the newest."""
    asked = symptoms_of(*words)
    if words and not asked:
        raise UsageError("Give words of three letters or more to look for.", "/retro patterns [category=<id>] "
                         "[model=<name>] [words…] [page=N]")
    kept = []
    for c in found:
        if category and c.pattern.category != category:
            continue
        m, _, w = score(c, category=None, models=[model] if model else [], words=asked)
        if (model and not m) or (asked and not w):
            continue
        kept.append((-w, c.validated_at is None, -c.number, c))
    return [c for *_, c in sorted(kept, key=lambda r: r[:3])]
