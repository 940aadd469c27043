"""Process audits: how well each incident closed in a period followed the retrospective process.

For every incident closed in the period seven checks run, each passed, failed (with its gaps) or not applicable:
the hash chain recomputes (`chain`); every evidence record and stored artifact still matches its digest
(`artifacts`); the postmortem was first drafted within `audit.postmortem_within_days` of resolution (`postmortem`);
its review is approved (`review`); every hypothesis has a verdict (`verdicts`); every mitigation is verified
(`mitigations`); no action item is overdue (`overdue`). An incident's score is the share of its applicable checks
that passed; the period's score is the mean of its incidents' scores. The report is plain JSON (text, integers,
booleans), so that its SHA-256 over canonical JSON can be recomputed from the stored row at any time.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.collectors import artifacts
from bot.config import Settings
from bot.errors import RetroError, UsageError
from bot.followup import verification
from bot.followup.cadence import local_today
from bot.incident.evidence import digest_of
from bot.insights.stats import Period, parse_period
from bot.postmortem import review
from bot.record import chain
from storage.models import ActionItem, Evidence, Hypothesis, Incident

AUDIT_USAGE = "/retro audit [period=90d]"
AUDITS_USAGE = "/retro audits [page=N]"
REPORT_VERSION = 1
CHECKS: dict[str, str] = {
    "chain": "Chain verifies", "artifacts": "Evidence matches its digests", "postmortem": "Postmortem on time",
    "review": "Review approved", "verdicts": "Every hypothesis has a verdict",
    "mitigations": "Every mitigation verified", "overdue": "No action item overdue",
}
TEXT_MAX = 200  # user text kept in a gap (a hypothesis statement, an action title)


def audit_period(text: str, *, now: datetime) -> Period:
    """`period=` of `/retro audit`: `90d`, `12w` (up to ten years)."""
    try:
        return parse_period(text, now=now)
    except UsageError as exc:
        raise UsageError(exc.user_message, AUDIT_USAGE) from None


def score_text(passed: int, applicable: int) -> str | None:
    """A share as text with two decimals ("0.83"), None when nothing applied."""
    return f"{passed / applicable:.2f}" if applicable else None


@dataclass
class Check:
    """One check of one incident: None when it does not apply, else whether it passed, and its gaps."""

    ok: bool | None = True
    gaps: list[dict[str, str]] = field(default_factory=list)

    def gap(self, item: str, says: str, text: str = "") -> None:
        """Note a gap: the item (E2, H1, A3 or empty), what is wrong, and the user text it concerns."""
        self.ok = False
        self.gaps.append({"item": item, "says": says, "text": text[:TEXT_MAX]})

    def json(self) -> dict[str, Any]:
        """The check as stored in the report."""
        return {"ok": self.ok, "gaps": self.gaps}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def artifact_problem(settings: Settings, row: Evidence) -> str | None:
    """What is wrong with an evidence item's stored artifact, if anything (files hashed in a thread)."""
    if row.artifact is None and not row.artifact_path:
        return None
    expected = artifacts.recorded_sha256(row)
    try:
        where = artifacts.located(settings, row)
    except RetroError as exc:
        return exc.user_message.split(": ", 1)[-1]
    actual = (hashlib.sha256(where).hexdigest() if isinstance(where, bytes)
              else await asyncio.to_thread(_file_sha256, where))
    if expected and actual != expected:
        return "the stored artifact does not match its recorded SHA-256."
    return None


async def _check_evidence(session: AsyncSession, settings: Settings, incident_id: int,
                          chained: dict[int, str]) -> Check:
    rows = (await session.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                               .order_by(col(Evidence.number)))).all()
    check = Check(ok=True if rows else None)
    for row in rows:
        item = f"E{row.number}"
        if digest_of(row) != row.sha256:
            check.gap(item, "its record no longer matches its SHA-256.")
        elif row.number in chained and chained[row.number] != row.sha256:
            check.gap(item, "its SHA-256 differs from the one chained when it was added.")
        if (problem := await artifact_problem(settings, row)) is not None:
            check.gap(item, problem)
    return check


def _check_postmortem(incident: Incident, entries: list[Any], within: int) -> Check:
    check = Check()
    drafts = [e.at for e in entries if e.kind == "postmortem_drafted"]
    ended = incident.resolved_at or incident.closed_at
    if not drafts:
        check.gap("", "no postmortem was drafted.")
    elif ended is not None and min(drafts) > ended + timedelta(days=within):
        late = (min(drafts) - ended).days
        check.gap("", f"the postmortem was first drafted {late} days after resolution (within {within} expected).")
    return check


def _check_review(state: review.ReviewState) -> Check:
    check = Check()
    if state.status != "approved":
        waiting = " ".join(f"<@{u}>" for u in state.waiting)
        check.gap("", f"the review is {state.status}" + (f" (waiting on {waiting})." if waiting else "."))
    return check


async def _check_ledger(session: AsyncSession, catalog: Catalog, incident: Incident,
                        now: datetime) -> tuple[Check, Check, Check]:
    assert incident.id is not None
    hyps = (await session.exec(select(Hypothesis).where(Hypothesis.incident_id == incident.id)
                               .order_by(col(Hypothesis.number)))).all()
    verdicts = Check(ok=True if hyps else None)
    for h in hyps:
        if h.verdict == "open":
            verdicts.gap(f"H{h.number}", "has no verdict", h.statement)
    states = await verification.action_states(session, incident.id, kinds=catalog.verify.kinds)
    actions = {a.number: a for a in (await session.exec(select(ActionItem).where(
        ActionItem.incident_id == incident.id).order_by(col(ActionItem.number)))).all()}
    mitigations = Check(ok=True if states else None)
    for number, state in states.items():
        if state != verification.VERIFIED:
            mitigations.gap(f"A{number}", f"is {state}", actions[number].title if number in actions else "")
    overdue = Check(ok=True if actions else None)
    today = local_today(now, catalog.tz)
    for a in actions.values():
        if a.status == "open" and a.due < today:
            overdue.gap(f"A{a.number}", f"is overdue since {a.due.isoformat()} (owner <@{a.owner}>)", a.title)
    return verdicts, mitigations, overdue


async def audit_incident(session: AsyncSession, *, settings: Settings, catalog: Catalog, incident: Incident,
                         state: review.ReviewState, now: datetime) -> dict[str, Any]:
    """The checks of one closed incident, its score and where it is, as stored in the report."""
    assert incident.id is not None
    checks: dict[str, Check] = {}
    verified = await chain.verify_incident(session, incident)
    checks["chain"] = Check()
    if not verified.ok:
        checks["chain"].gap("", f"entry {verified.bad_seq}: {verified.reason}")
    entries = await chain.entries_of(session, incident.id)
    chained = {int(e.data.get("number") or 0): str(e.data.get("sha256") or "")
               for e in entries if e.kind == "evidence_added"}
    checks["artifacts"] = await _check_evidence(session, settings, incident.id, chained)
    checks["postmortem"] = _check_postmortem(incident, entries, catalog.audit.postmortem_within_days)
    checks["review"] = _check_review(state)
    checks["verdicts"], checks["mitigations"], checks["overdue"] = await _check_ledger(session, catalog, incident,
                                                                                        now)
    applied = [c for c in checks.values() if c.ok is not None]
    return {"id": incident.id, "channel_id": incident.channel_id, "channel_name": incident.channel_name,
            "title": incident.title[:TEXT_MAX], "private": incident.private, "closed_at": iso(incident.closed_at),
            "score": score_text(sum(1 for c in applied if c.ok), len(applied)),
            "checks": {key: checks[key].json() for key in CHECKS}}


async def closed_in(session: AsyncSession, team_id: str, since: datetime, until: datetime) -> list[Incident]:
    """The workspace's incidents closed from `since` to `until` (both included), earliest first."""
    rows = await session.exec(select(Incident).where(
        Incident.team_id == team_id, Incident.status == "closed", col(Incident.closed_at) >= since,
        col(Incident.closed_at) <= until).order_by(col(Incident.closed_at), col(Incident.id)))
    return list(rows.all())


async def build_report(session: AsyncSession, *, settings: Settings, catalog: Catalog, team_id: str,
                       period: Period, now: datetime) -> dict[str, Any]:
    """The audit of a workspace's incidents closed in the period (not recorded: see audit_log.record)."""
    found = await closed_in(session, team_id, period.since, period.until)
    states = await review.states(session, found)
    audited = [await audit_incident(session, settings=settings, catalog=catalog, incident=i,
                                    state=states[i.id or 0], now=now) for i in found]
    totals: dict[str, list[int]] = {}
    for key in CHECKS:
        results = [a["checks"][key]["ok"] for a in audited if a["checks"][key]["ok"] is not None]
        totals[key] = [sum(1 for ok in results if ok), len(results)]
    scores = [int(a["score"].replace(".", "")) for a in audited if a["score"] is not None]  # hundredths
    overall = f"{sum(scores) / len(scores) / 100:.2f}" if scores else None
    return {"version": REPORT_VERSION, "team_id": team_id, "period": {
        "label": period.label, "since": iso(period.since), "until": iso(period.until)},
        "postmortem_within_days": catalog.audit.postmortem_within_days, "stages": list(catalog.verify.stages),
        "incidents": audited, "checks": totals, "score": overall}
