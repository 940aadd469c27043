"""Mitigations verified stage by stage: where each action item stands, and what other parts of Retro read of it.

An action item of a mitigating kind (the team's `verify.kinds`) is *unverified* until it has checks; *verified* once
the latest check at every stage (the team's `verify.stages`, in order) passed; *failed* while the latest check at a
stage failed before it was ever verified; *regressed* when a check failed after it was verified (a scheduled
re-check, or a person's report). Passing every stage again verifies it anew: `verified_at` moves to that moment and
`regressed_at` is cleared (the chain keeps both events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.errors import ConflictError, UsageError
from bot.followup import rechecks
from bot.followup.expectations import MAX_RECHECK, MIN_RECHECK, parse_duration
from bot.hints import did_you_mean
from bot.loop_config import VerifyConfig
from bot.record import chain
from storage.loop_tables import ActionCheck, ActionVerification
from storage.models import ActionItem, Evidence
from storage.safetext import storable

UNVERIFIED, FAILED, VERIFIED, REGRESSED = "unverified", "failed", "verified", "regressed"
DEFAULT_KINDS: tuple[str, ...] = tuple(VerifyConfig().kinds)


@dataclass(frozen=True)
class VerifiedAction:
    """An action item that was verified at some point (it may have regressed since)."""

    action_id: int
    incident_id: int
    number: int
    verified_at: datetime
    regressed_at: datetime | None
    created_at: datetime


async def verified_actions(session: AsyncSession, team_id: str) -> list[VerifiedAction]:
    """Every action item of a workspace with a verification time (verified now, or verified then regressed),
    earliest verification first."""
    rows = await session.exec(
        select(ActionVerification, ActionItem).join(ActionItem, col(ActionItem.id) == col(ActionVerification.action_id))
        .where(ActionVerification.team_id == team_id, col(ActionVerification.verified_at).is_not(None))
        .order_by(col(ActionVerification.verified_at), col(ActionItem.id)))
    found = []
    for ver, item in rows.all():
        assert ver.verified_at is not None and item.id is not None
        found.append(VerifiedAction(item.id, item.incident_id, item.number, ver.verified_at, ver.regressed_at,
                                    item.created_at))
    return found


async def action_states(session: AsyncSession, incident_id: int, *,
                        kinds: Sequence[str] = DEFAULT_KINDS) -> dict[int, str]:
    """The verification state of each mitigation of an incident (A number -> state), A1 first.

    Mitigations are the items of the given kinds (pass `catalog.verify.kinds`; the defaults otherwise) that were
    not dropped; an item without any verification row is "unverified".
    """
    rows = await session.exec(
        select(ActionItem, ActionVerification)
        .join(ActionVerification, col(ActionVerification.action_id) == col(ActionItem.id), isouter=True)
        .where(ActionItem.incident_id == incident_id, col(ActionItem.kind).in_(tuple(kinds)),
               ActionItem.status != "dropped")
        .order_by(col(ActionItem.number)))
    return {item.number: (ver.state if ver is not None else UNVERIFIED) for item, ver in rows.all()}


def latest_by_stage(checks: Sequence[ActionCheck]) -> dict[str, ActionCheck]:
    """The most recent check at each stage (checks in any order; ties go to the later id)."""
    latest: dict[str, ActionCheck] = {}
    for check in sorted(checks, key=lambda c: (c.checked_at, c.id or 0)):
        latest[check.stage] = check
    return latest


def next_stage(stages: Sequence[str], checks: Sequence[ActionCheck]) -> str | None:
    """The first stage, in order, whose latest check did not pass (None: all passed)."""
    latest = latest_by_stage(checks)
    for stage in stages:
        check = latest.get(stage)
        if check is None or check.outcome != "pass":
            return stage
    return None


def state_after(previous: str, stages: Sequence[str], checks: Sequence[ActionCheck]) -> str:
    """The state once `checks` (all of an item's checks, the newest included) are known."""
    latest = latest_by_stage(checks)
    if any(c.outcome != "pass" for c in latest.values()):
        return REGRESSED if previous in (VERIFIED, REGRESSED) else FAILED
    if next_stage(stages, checks) is None:
        return VERIFIED
    return UNVERIFIED if previous != REGRESSED else REGRESSED


@dataclass(frozen=True)
class Recorded:
    """A check kept: the row, the item's state before and after it, and the next re-check if one is scheduled."""

    check: ActionCheck
    before: str
    after: str
    verification: ActionVerification
    recheck_at: datetime | None = None


def mitigating(catalog: Catalog, action: ActionItem) -> None:
    """Refuse items that are not mitigations, or that were dropped."""
    if action.kind not in catalog.verify.kinds:
        raise ConflictError(f"A{action.number} is a {action.kind} item; checks verify mitigations (kinds: "
                            f"{', '.join(catalog.verify.kinds)}).")
    if action.status == "dropped":
        raise ConflictError(f"A{action.number} was dropped; there is nothing to verify.")


async def checks_of(session: AsyncSession, action_id: int) -> list[ActionCheck]:
    """Every check of an item, oldest first."""
    rows = await session.exec(select(ActionCheck).where(ActionCheck.action_id == action_id)
                              .order_by(col(ActionCheck.checked_at), col(ActionCheck.id)))
    return list(rows.all())


async def in_order(session: AsyncSession, catalog: Catalog, action: ActionItem, stage: str, usage: str) -> None:
    """Refuse a check at a stage the team does not have, or before every earlier stage passed (before anything is
    measured or recorded)."""
    mitigating(catalog, action)
    stages = catalog.verify.stages
    if stage not in stages:
        raise UsageError(f"Unknown stage `{stage[:32]}`.{did_you_mean(stage, stages)} Stages, in order: "
                         f"{' → '.join(stages)}.", usage)
    latest = latest_by_stage(_verdicts(await checks_of(session, action.id or 0)))
    waiting = [s for s in stages[:stages.index(stage)] if (c := latest.get(s)) is None or c.outcome != "pass"]
    if waiting:
        raise ConflictError(f"A{action.number} has not passed {waiting[0]} yet: stages are verified in order "
                            f"({' → '.join(stages)}).")


def _verdicts(checks: Sequence[ActionCheck]) -> list[ActionCheck]:
    return [c for c in checks if c.outcome in ("pass", "fail")]  # a check that could not run says nothing


async def _row(session: AsyncSession, action: ActionItem, now: datetime) -> ActionVerification:
    assert action.id is not None
    # The UPDATE takes the item's row lock first (same order as bot.followup.action_items).
    await session.exec(update(ActionItem).where(col(ActionItem.id) == action.id).values(number=col(ActionItem.number)))
    ver = (await session.exec(select(ActionVerification).where(ActionVerification.action_id == action.id)
                              .execution_options(populate_existing=True))).first()
    return ver or ActionVerification(action_id=action.id, team_id=action.team_id, incident_id=action.incident_id,
                                     updated_at=now)


async def configure(session: AsyncSession, *, action: ActionItem, rollback: str | None, recheck: timedelta | None,
                    actor: str, now: datetime) -> tuple[ActionVerification, datetime | None]:
    """Set the item's rollback and re-check cadence (each only when given), chained; a verified item's re-check is
    scheduled from now. Commits."""
    ver = await _row(session, action, now)
    data: dict[str, object] = {"number": action.number}
    if rollback is not None:
        ver.rollback = data["rollback"] = storable(" ".join(rollback.split()))[:1000]
    if recheck is not None:
        ver.recheck_seconds = data["recheck_seconds"] = int(recheck.total_seconds())
    ver.updated_at = now
    session.add(ver)
    await session.flush()
    await chain.append(session, incident_id=action.incident_id, kind="action_verify_set", at=now, actor=actor,
                       data=data)
    due = await rechecks.schedule(session, ver, after=now) if ver.state == VERIFIED and recheck else None
    await session.commit()
    return ver, due


async def record_check(session: AsyncSession, *, catalog: Catalog, action: ActionItem, stage: str, method: str,
                       spec: dict[str, Any], outcome: str, summary: str, evidence: Evidence | None, scheduled: bool,
                       actor: str, now: datetime) -> Recorded:
    """Keep one check (row and chain entry, naming its evidence and digest), move the item's state, chain a
    verification or a regression, and schedule or cancel the re-check. Commits."""
    assert action.id is not None
    ver = await _row(session, action, now)
    before = ver.state
    check = ActionCheck(team_id=action.team_id, incident_id=action.incident_id, action_id=action.id, stage=stage,
                        method=method, spec=spec, outcome=outcome, summary=storable(summary)[:2000],
                        evidence_number=evidence.number if evidence else None, scheduled=scheduled,
                        checked_by=actor, checked_at=now)
    session.add(check)
    await session.flush()
    after = state_after(before, catalog.verify.stages, _verdicts([*await checks_of(session, action.id)]))
    ver.state, ver.updated_at = after, now
    base = {"number": action.number, "stage": stage}
    await chain.append(session, incident_id=action.incident_id, kind="action_check", at=now, actor=actor,
                       key_event=outcome != "pass" or after != before,
                       data={**base, "method": method, "outcome": outcome, "scheduled": scheduled, "check": check.id,
                             "evidence": evidence.number if evidence else None,
                             "evidence_sha256": evidence.sha256 if evidence else None, "spec": spec})
    due = None
    if after == VERIFIED and before != VERIFIED:
        ver.verified_at, ver.regressed_at = now, None
        await chain.append(session, incident_id=action.incident_id, kind="action_verified", at=now, actor=actor,
                           key_event=True, data={"number": action.number, "stages": catalog.verify.stages})
    if after == REGRESSED and before != REGRESSED:
        ver.regressed_at = now
        await chain.append(session, incident_id=action.incident_id, kind="action_regressed", at=now, actor=actor,
                           key_event=True, data={**base, "check": check.id, "scheduled": scheduled})
    session.add(ver)
    if after == VERIFIED and (before != VERIFIED or scheduled):
        due = await rechecks.schedule(session, ver, after=now)
    elif after != VERIFIED:
        await rechecks.cancel(session, action.id, reason=f"action item is {after}")
    await session.commit()
    return Recorded(check, before, after, ver, due)


async def unverified(session: AsyncSession, catalog: Catalog, incident_id: int) -> list[tuple[ActionItem, str]]:
    """The incident's mitigations that are not verified now, with their state (the close gate lists them)."""
    states = await action_states(session, incident_id, kinds=catalog.verify.kinds)
    rows = await session.exec(select(ActionItem).where(ActionItem.incident_id == incident_id)
                              .order_by(col(ActionItem.number)))
    return [(a, states[a.number]) for a in rows.all() if states.get(a.number, VERIFIED) != VERIFIED]


def options_of(options: dict[str, str], usage: str) -> tuple[str | None, timedelta | None]:
    """`rollback="…"` and `recheck=7d` as typed on `/retro action` or `/retro check` (None when not given)."""
    rollback = options.get("rollback")
    if rollback is not None and not rollback.strip():
        raise UsageError('`rollback=` needs the steps to roll back, in quotes: rollback="revert the flag".', usage)
    recheck = options.get("recheck")
    every = parse_duration(recheck, key="recheck", usage=usage, low=MIN_RECHECK, high=MAX_RECHECK) \
        if recheck is not None else None
    return rollback, every


def refusal(items: Sequence[tuple[ActionItem, str]]) -> str:
    """Why closing is refused while mitigations are not verified (the team's gate is `block`)."""
    listed = "\n".join(f"• A{a.number} {a.title[:120]} — {state}" for a, state in items[:15])
    more = f"\n…and {len(items) - 15} more." if len(items) > 15 else ""
    return ("This team closes an incident only once every mitigation is verified "
            f"(verify.close_requires_verified: block). Not verified yet:\n{listed}{more}")
