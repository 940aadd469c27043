"""Reviewing the postmortem: an owner asks reviewers (`/retro review request @a @b [owner=@c]`), each approves or
asks for changes (`/retro review approve|changes <note>`); both are chained, and the state is read back from the
chain (for the draft, the summary and `/retro stats`).

A postmortem is *approved* when every reviewer asked has approved (their latest word counts), *changes requested*
while any reviewer's latest word asks for changes, *in review* while someone has not answered, *not requested*
before anyone was asked, and *not drafted* before the first draft.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import NotAllowedError, UsageError
from bot.record import chain
from storage.models import Incident, TimelineEntry

REVIEW_USAGE = "/retro review [request @user … [owner=@user] | approve [note] | changes <note>]"
REQUESTED, VERDICT = "review_requested", "review_verdict"
KINDS = (REQUESTED, VERDICT)
VERDICTS = {"approve": "approved", "changes": "changes"}
STATUSES = ("approved", "changes requested", "in review", "not requested", "not drafted")
MAX_REVIEWERS = 10


@dataclass(frozen=True)
class Word:
    """A reviewer's latest word: approved or changes, on which draft, when, and the note."""

    verdict: str
    version: int
    at: str
    note: str | None


@dataclass
class ReviewState:
    """Who owns the postmortem, who reviews it and what they said."""

    owner: str | None = None
    reviewers: list[str] = field(default_factory=list)
    words: dict[str, Word] = field(default_factory=dict)
    drafted: bool = True

    @property
    def status(self) -> str:
        """One of STATUSES."""
        if not self.reviewers:
            return "not requested" if self.drafted else "not drafted"
        latest = [self.words.get(r) for r in self.reviewers]
        if any(w is not None and w.verdict == "changes" for w in latest):
            return "changes requested"
        return "approved" if all(w is not None for w in latest) else "in review"

    @property
    def waiting(self) -> list[str]:
        """Reviewers who have not answered yet."""
        return [r for r in self.reviewers if r not in self.words]


def state_of(rows: Iterable[tuple[str, str | None, Mapping[str, Any], str | None, str]], *,
             drafted: bool = True) -> ReviewState:
    """The review state from (kind, actor, data, text, at) of the chain's review entries, in chain order."""
    state = ReviewState(drafted=drafted)
    for kind, actor, data, text, at in rows:
        if kind == REQUESTED:
            state.owner = str(data.get("owner") or actor or "") or state.owner
            state.reviewers += [r for r in data.get("reviewers") or [] if r not in state.reviewers]
        elif kind == VERDICT and actor:
            state.words[actor] = Word(str(data.get("verdict")), int(data.get("version") or 0), at, text)
    return state


async def current(session: AsyncSession, incident: Incident) -> ReviewState:
    """The incident's review state, from its chain."""
    return (await states(session, [incident]))[incident.id or 0]


async def states(session: AsyncSession, incidents: list[Incident]) -> dict[int, ReviewState]:
    """The review state of each incident (by id), in one query."""
    ids = [i.id for i in incidents if i.id is not None]
    rows = (await session.exec(select(TimelineEntry).where(
        col(TimelineEntry.incident_id).in_(ids), col(TimelineEntry.kind).in_(KINDS))
        .order_by(col(TimelineEntry.incident_id), col(TimelineEntry.seq)))).all() if ids else []
    grouped: dict[int, list[TimelineEntry]] = {}
    for row in rows:
        grouped.setdefault(row.incident_id, []).append(row)
    return {i.id or 0: state_of(((e.kind, e.actor, e.data, e.text, e.at.isoformat())
                                 for e in grouped.get(i.id or 0, [])), drafted=i.draft_seq > 0) for i in incidents}


async def _fresh(session: AsyncSession, incident: Incident) -> Incident:
    """The incident row as stored now (how many drafts it has)."""
    row = await session.get(Incident, incident.id, populate_existing=True)
    assert row is not None
    return row


async def request(session: AsyncSession, *, incident: Incident, reviewers: list[str], owner: str | None,
                  actor: str, now: datetime) -> ReviewState:
    """Ask reviewers to review the latest draft (the owner: as given, else the one named before, else the asker);
    commits."""
    assert incident.id is not None
    incident = await _fresh(session, incident)
    if incident.draft_seq < 1:
        raise UsageError("Draft the postmortem first (`/retro postmortem`), then ask for a review.", REVIEW_USAGE)
    wanted = list(dict.fromkeys(reviewers))
    if not wanted or len(wanted) > MAX_REVIEWERS:
        raise UsageError(f"Name one to {MAX_REVIEWERS} reviewers with @.", REVIEW_USAGE)
    before = await current(session, incident)
    data = {"owner": owner or before.owner or actor, "reviewers": wanted, "version": incident.draft_seq}
    await chain.append(session, incident_id=incident.id or 0, kind=REQUESTED, at=now, actor=actor, key_event=False,
                       data=data)
    await session.commit()
    return await current(session, incident)


async def decide(session: AsyncSession, *, incident: Incident, verdict: str, note: str, actor: str,
                 now: datetime) -> ReviewState:
    """A reviewer approves the postmortem or asks for changes (with a note saying which); commits."""
    assert incident.id is not None
    incident = await _fresh(session, incident)
    before = await current(session, incident)
    if actor not in before.reviewers:
        asked = ", ".join(f"<@{r}>" for r in before.reviewers) or "nobody yet"
        raise NotAllowedError(f"Only the reviewers asked can answer a review (asked: {asked}). The owner adds "
                              "reviewers with `/retro review request @user`.")
    if verdict == "changes" and not note:
        raise UsageError("Say which changes the postmortem needs.", REVIEW_USAGE)
    await chain.append(session, incident_id=incident.id or 0, kind=VERDICT, at=now, actor=actor, key_event=False,
                       text=note or None, data={"verdict": verdict, "version": incident.draft_seq})
    await session.commit()
    return await current(session, incident)
