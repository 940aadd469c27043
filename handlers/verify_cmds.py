"""`/retro check`: verify a mitigation at a stage (a metric, a data check, or a person's verdict), note its rollback
and re-check cadence, or show where it stands."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.blocks.verify_texts import settings_text, status_text
from bot.followup import action_items, rechecks, verification
from bot.followup.expectations import MAX_WINDOW, parse_duration, parse_expect, spoken
from bot.record.timeline import unescape_slack
from bot.safety import escape_mrkdwn
from bot.slack import verify_flow
from bot.slack.snapshots import DataCheck
from handlers.context import Ctx
from handlers.options import thresholds
from handlers.parsing import Parsed, numbered, occurred, parse
from storage.loop_tables import ActionVerification
from storage.models import ActionItem, Incident

_METRIC = re.compile(r"(?:^|(?<=\s))metric=(`[^`]*`|`|[^\s`]+)")
_STRAIGHTEN = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
METRIC_OPTIONS = ("stage", "expect", "window", "at", "rollback", "recheck")
DATA_OPTIONS = ("stage", "baseline", "current", "key", "psi", "ks", "nulls", "rollback", "recheck")
MANUAL_OPTIONS = ("stage", "result", "evidence", "rollback", "recheck")


def split_metric(cmd: Parsed) -> tuple[str | None, Parsed]:
    """The PromQL of `metric=` (verbatim, in backticks when it has spaces) and the command without it."""
    m = _METRIC.search(cmd.raw)
    if m is None:
        return None, cmd
    query = m.group(1)
    if query == "`":
        raise cmd.fail("The query opens a backtick but never closes it.")
    query = query[1:-1] if query.startswith("`") else query
    query = (unescape_slack(query) if cmd.escaped else query).translate(_STRAIGHTEN).strip()
    if not query:
        raise cmd.fail("Give the PromQL to check: metric=`<query>`.")
    rest = f"{cmd.raw[:m.start()].rstrip()} {cmd.raw[m.end():].lstrip()}".strip()
    return query, parse(f"{cmd.name} {rest}", escaped=cmd.escaped)


async def _item(ctx: Ctx, cmd: Parsed) -> tuple[Incident, ActionItem]:
    if not cmd.words:
        raise cmd.fail("Name the action item, like A1.")
    number = numbered(cmd.words[0], "A", cmd.usage)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        return incident, await action_items.get(session, incident.id or 0, number)


async def check(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro check A<n> stage=<s> metric=`…` expect="…" | datacheck baseline=… current=… | result=pass|fail
    evidence=E<k> [note]`, with `rollback=` and `recheck=` on any of them or alone."""
    query, cmd = split_metric(cmd)
    rollback, recheck = verification.options_of(cmd.options, cmd.usage)
    incident, action = await _item(ctx, cmd)
    catalog = ctx.deps.catalog
    stage = cmd.options.get("stage", "").strip().lower()
    datacheck = len(cmd.words) > 1 and cmd.words[1].lower() == "datacheck"
    manual = "result" in cmd.options
    if sum((query is not None, datacheck, manual)) > 1:
        raise cmd.fail("One check at a time: metric=, datacheck or result=.")
    if not stage and (query is not None or datacheck or manual):
        raise cmd.fail(f"Name the stage: stage=<{'|'.join(catalog.verify.stages)}>.")
    if rollback is not None or recheck is not None:
        verification.mitigating(catalog, action)
        async with ctx.deps.session() as session:
            ver, due = await verification.configure(session, action=action, rollback=rollback, recheck=recheck,
                                                    actor=ctx.user_id, now=ctx.deps.now())
        await ctx.reply(settings_text(action, rollback, spoken(recheck) if recheck else None, due))
    elif not stage:
        cmd.allow_options("stage")
        await ctx.reply(await _status(ctx, action))
        return
    if not stage:
        return
    async with ctx.deps.session() as session:
        await verification.in_order(session, catalog, action, stage, cmd.usage)
    if query is not None:
        await _metric(ctx, cmd, incident, action, stage, query)
    elif datacheck:
        await _datacheck(ctx, cmd, incident, action, stage)
    elif manual:
        await _manual(ctx, cmd, incident, action, stage)
    else:
        raise cmd.fail("Say how to check: metric=`<PromQL>` expect=\"< 0.05\", datacheck baseline=… current=…, or "
                       "result=pass|fail evidence=E<k>.")


async def _metric(ctx: Ctx, cmd: Parsed, incident: Incident, action: ActionItem, stage: str, query: str) -> None:
    cmd.allow_options(*METRIC_OPTIONS)
    if len(cmd.words) > 1:
        raise cmd.fail(f"Unexpected words after A{action.number}: put the query in backticks, metric=`…`.")
    if not cmd.options.get("expect"):
        raise cmd.fail('Say what every sample must satisfy: expect="< 0.05".')
    expect = parse_expect(cmd.options["expect"], cmd.usage)
    window = parse_duration(cmd.options.get("window") or ctx.deps.catalog.verify.default_window, key="window",
                            usage=cmd.usage, low=timedelta(seconds=1), high=MAX_WINDOW)
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    end = at or ctx.deps.now()
    await ctx.reply(f"Checking A{action.number} at {stage}: every sample over {spoken(window)} against "
                    f"`{escape_mrkdwn(str(expect))}`…")
    await verify_flow.metric(ctx.client, ctx.deps, incident, action, verify_flow.MetricCheck(query, expect, window,
                             end), stage=stage, actor=ctx.user_id, usage=cmd.usage)


async def _datacheck(ctx: Ctx, cmd: Parsed, incident: Incident, action: ActionItem, stage: str) -> None:
    cmd.allow_options(*DATA_OPTIONS)
    missing = [k for k in ("baseline", "current") if not cmd.options.get(k)]
    if missing or len(cmd.words) > 2:
        raise cmd.fail("A data check takes baseline= and current=: an evidence id like E2, or a file's link or name.")
    data = DataCheck(cmd.options["baseline"], cmd.options["current"],
                     [k.strip() for k in cmd.options.get("key", "").split(",") if k.strip()],
                     thresholds(ctx.deps.settings, ctx.deps.catalog.datacheck, cmd), cmd.usage)

    async def queued(place: int) -> None:
        await ctx.reply(f"Waiting for a data-check worker ({place} ahead)…")

    await ctx.reply(f"Checking A{action.number} at {stage}: comparing the snapshots…")
    await verify_flow.datacheck(ctx.client, ctx.deps, incident, action, data, stage=stage, actor=ctx.user_id,
                                on_queued=queued)


async def _manual(ctx: Ctx, cmd: Parsed, incident: Incident, action: ActionItem, stage: str) -> None:
    cmd.allow_options(*MANUAL_OPTIONS)
    result = cmd.options["result"].strip().lower()
    if result not in ("pass", "fail"):
        raise cmd.fail("`result=` is pass or fail.")
    if not cmd.options.get("evidence"):
        raise cmd.fail("A verdict rests on evidence: evidence=E<k> (add it first with `/retro evidence`).")
    number = numbered(cmd.options["evidence"], "E", cmd.usage)
    await verify_flow.manual(ctx.client, ctx.deps, incident, action, stage=stage, outcome=result,
                             evidence_number=number, note=" ".join(cmd.words[1:]), actor=ctx.user_id)


async def _status(ctx: Ctx, action: ActionItem) -> str:
    """Where an item stands: its state, each stage's latest check, its rollback and next re-check."""
    verification.mitigating(ctx.deps.catalog, action)
    async with ctx.deps.session() as session:
        checks = await verification.checks_of(session, action.id or 0)
        ver = await session.get(ActionVerification, action.id)
        due = await rechecks.pending_at(session, action.id or 0)
    return status_text(action, ver, verification.latest_by_stage(checks), ctx.deps.catalog.verify.stages, due)
