"""Verifying a mitigation from Slack: measure (Prometheus, a data check) or take a person's verdict, keep the
outcome as evidence and as a check, say it in the incident channel; and the scheduled re-checks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.verify_texts import check_text, datacheck_detail, manual_detail, metric_detail, regressed_dm
from bot.canonical import iso
from bot.collectors.base import Artifact
from bot.collectors.record import collect as collect_and_keep
from bot.deps import Deps
from bot.errors import UsageError
from bot.followup import rechecks, verification
from bot.followup.expectations import Expectation, MetricVerdict, evaluate, parse_duration, parse_expect, spoken
from bot.followup.verification import Recorded
from bot.incident import evidence
from bot.incident.roles import current_roles
from bot.slack import snapshots
from bot.slack.channels import post
from bot.slack.collect import collector_for, share_charts
from bot.slack.snapshots import DataCheck
from storage.loop_tables import ActionCheck, ActionVerification
from storage.models import ActionItem, Evidence, Incident

log = logging.getLogger("retro.verify")


@dataclass(frozen=True)
class MetricCheck:
    """A metric check as asked: the query, what every sample must satisfy, and the window ending at `end`."""

    query: str
    expect: Expectation
    window: timedelta
    end: datetime


@dataclass(frozen=True)
class Done:
    """A kept check and what was said about it in the channel."""

    recorded: Recorded
    text: str
    failed_detail: str | None = None


def _actor(deps: Deps, actor: str | None) -> str:
    return actor or deps.bot_user_id or "retro"


async def _keep(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, *, stage: str,
                method: str, spec: dict[str, object], outcome: str, detail: str, row: Evidence | None,
                actor: str | None, scheduled: bool = False) -> Done:
    async with deps.session() as session:
        recorded = await verification.record_check(
            session, catalog=deps.catalog, action=action, stage=stage, method=method, spec=spec, outcome=outcome,
            summary=detail, evidence=row, scheduled=scheduled, actor=_actor(deps, actor), now=deps.now())
    text = check_text(action, recorded, detail, stages=deps.catalog.verify.stages, by=actor,
                      recheck_at=recorded.recheck_at)
    return Done(recorded, text, detail if outcome == "fail" else None)


async def _say(client: AsyncWebClient, deps: Deps, incident: Incident, text: str, row: Evidence | None = None,
               chart: Artifact | None = None) -> None:
    try:
        if row is not None and chart is not None and await share_charts(client, deps, incident, row, [chart],
                                                                        text) is None:
            return
        await post(client, deps, incident, text=text)
    except SlackApiError as exc:  # the record is kept; a closed incident's channel may be archived
        log.warning("check of incident %s not posted: %s", incident.id, exc.response.get("error"))


async def metric(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, check: MetricCheck, *,
                 stage: str, actor: str | None, scheduled: bool = False, usage: str = "") -> Done:
    """Query Prometheus over the window, keep the answer as evidence, and judge every sample."""
    start = check.end - check.window
    item = evidence.validate("metric", check.query, f"A{action.number} {stage} check: expect {check.expect}",
                             {"from": iso(start) or "", "to": iso(check.end) or ""}, now=deps.now())
    item = replace(item, options={**item.options, "expect": str(check.expect)})  # pinned in the range's analysis
    found = collector_for(deps, item)
    if found is None:
        raise UsageError("Metric checks query Prometheus, and PROMETHEUS_URL is not set for this Retro.", usage)
    out = await collect_and_keep(deps, incident=incident, item=item, collector=found.collector,
                                 actor=_actor(deps, actor))
    window = spoken(check.window)
    spec: dict[str, object] = {"query": check.query, "expect": str(check.expect), "window": window,
                               "from": iso(start), "to": iso(check.end)}
    if out.collected is None:
        verdict: MetricVerdict | None = None
        outcome, detail = "error", f"Prometheus could not be queried: {out.error}"
    else:
        verdict = evaluate(out.collected.files[0].data, check.expect)
        outcome, detail = verdict.outcome, metric_detail(verdict, check.expect, check.query, window)
        spec["verdict"] = verdict.facts()
    done = await _keep(client, deps, incident, action, stage=stage, method="metric", spec=spec, outcome=outcome,
                       detail=detail, row=out.item, actor=actor, scheduled=scheduled)
    await _say(client, deps, incident, done.text, out.item, out.collected.chart if out.collected else None)
    return done


async def datacheck(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, check: DataCheck, *,
                    stage: str, actor: str, on_queued: Callable[[int], Awaitable[None]]) -> Done:
    """Run the data check (its report kept and summarised as usual); it passes when nothing is flagged."""
    checked = await snapshots.run(client, deps, incident, check, actor=actor, on_queued=on_queued)
    flagged = [str(f.get("column")) for f in (checked.row.custody.get("metadata") or {}).get("flagged") or []]
    outcome = "error" if checked.error else "fail" if flagged else "pass"
    spec: dict[str, object] = {"baseline": check.baseline, "current": check.current, "key": check.key,
                               "flagged": flagged}
    done = await _keep(client, deps, incident, action, stage=stage, method="datacheck", spec=spec, outcome=outcome,
                       detail=datacheck_detail(flagged, checked.error), row=checked.row, actor=actor)
    await _say(client, deps, incident, done.text)
    return done


async def manual(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, *, stage: str,
                 outcome: str, evidence_number: int, note: str, actor: str) -> Done:
    """A person's verdict (a canary report, a test run) resting on evidence already kept."""
    async with deps.session() as session:
        row = await evidence.by_number(session, incident.id or 0, evidence_number)
    spec: dict[str, object] = {"result": outcome, "evidence": evidence_number, "note": note}
    done = await _keep(client, deps, incident, action, stage=stage, method="manual", spec=spec, outcome=outcome,
                       detail=manual_detail(outcome, evidence_number, note), row=row, actor=actor)
    await _say(client, deps, incident, done.text)
    return done


async def recheck(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, *,
                  now: datetime) -> list[int]:
    """A due re-check: run each stage's latest metric check again over its window ending now; on a regression, the
    owner and the commander get a notice (returned: the reminder rows to deliver)."""
    assert action.id is not None
    async with deps.session() as session:
        earlier = await rechecks.metric_checks(session, action.id)
    order = deps.catalog.verify.stages
    earlier.sort(key=lambda c: order.index(c.stage) if c.stage in order else len(order))
    failed: list[Done] = []
    for old in earlier:
        window = timedelta(seconds=_seconds(str(old.spec.get("window") or deps.catalog.verify.default_window)))
        check = MetricCheck(str(old.spec["query"]), parse_expect(str(old.spec["expect"]), ""), window, now)
        done = await metric(client, deps, incident, action, check, stage=old.stage, actor=None, scheduled=True)
        if done.recorded.after == verification.REGRESSED and done.failed_detail:
            failed.append(done)
    if not failed:
        return []
    async with deps.session() as session:
        commander = (await current_roles(session, incident.id or 0)).get("commander")
        ids = await rechecks.tell(session, ver=failed[0].recorded.verification,
                                  people=[p for p in (action.owner, commander) if p],
                                  check_id=failed[0].recorded.check.id or 0, now=now)
        await session.commit()
    return ids


def _seconds(text: str) -> float:
    return parse_duration(text, key="window", usage="", low=timedelta(seconds=1), high=timedelta(days=31)) \
        .total_seconds()


async def send_regressed(client: AsyncWebClient, deps: Deps, incident: Incident, action: ActionItem, *, to: str,
                         check_id: int, metadata: dict[str, object]) -> None:
    """The DM telling the owner or the commander that a scheduled re-check failed."""
    async with deps.session() as session:
        check = await session.get(ActionCheck, check_id)
        ver = await session.get(ActionVerification, action.id)
    detail = check.summary if check is not None else "a metric check failed"
    text = regressed_dm(action, incident, detail, ver.rollback if ver else None)
    await client.chat_postMessage(channel=to, text=text, metadata=metadata)
