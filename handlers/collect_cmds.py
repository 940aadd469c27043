"""Evidence that collects itself: routing `/retro evidence` to collectors, after the ack, and showing the outcome."""

from __future__ import annotations

import functools
import html
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.blocks import echo
from bot.collectors.base import Collected, CollectRequest
from bot.collectors.prometheus import METRIC_USAGE
from bot.collectors.record import Outcome, collect
from bot.collectors.registry import Registry
from bot.errors import UsageError
from bot.incident import evidence
from bot.record import chain
from bot.slack import channels
from handlers import datacheck_cmds
from handlers.context import Ctx
from handlers.parsing import Parsed, parse
from storage.models import Evidence, Incident

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


@functools.cache
def registry() -> Registry:
    """The installed collectors (entry points are read once per process)."""
    return Registry.installed()


def evidence_input(cmd: Parsed, *, now: datetime) -> evidence.EvidenceInput | None:
    """`metric` takes PromQL verbatim (in backticks when it has spaces); other kinds use the usual grammar."""
    if not cmd.words or cmd.words[0].lower() != "metric":
        return None
    _, _, after_kind = cmd.rest.strip().partition(" ")
    rest = html.unescape(after_kind).strip()
    if rest.startswith("`"):
        close = rest.find("`", 1)
        if close < 0:
            raise UsageError("The query opens a backtick but never closes it.", METRIC_USAGE)
        query, tail = rest[1:close], rest[close + 1:]
    else:
        query, _, tail = rest.partition(" ")
    if not query.strip():
        raise UsageError("Give the PromQL expression to chart.", METRIC_USAGE)
    extra = parse(f"evidence {tail}")
    return evidence.validate("metric", query.translate(_QUOTES), extra.text(), extra.options, now=now)


def _kept(row: Evidence) -> str:
    art = row.custody.get("artifact") or {}
    where = "in the database" if art.get("stored") == "database" else "in the artifact store"
    name = echo(str(art.get("name") or "artifact"), 200)  # from an outside server: shown as text, never as markup
    return f"{name} ({art.get('size', 0)} bytes, sha256 `{str(art.get('sha256', ''))[:16]}…`) " \
           f"kept {where}"


def outcome_text(out: Outcome, what: str) -> str:
    """The reply after a collection: what was kept, or what failed and that the attempt is on record."""
    row = out.item
    if out.collected is None:
        return (f":warning: Could not collect {echo(what, 300)}: {echo(out.error, 900)}\n"
                f"Recorded *E{row.number}* as a failed attempt at {row.added_at:%H:%M} UTC.")
    return (f"Collected *E{row.number}* ({row.kind}) {echo(what, 300)}: {echo(out.collected.summary, 900)}\n"
            f"{_kept(row)} · evidence sha256 `{row.sha256[:16]}…`")


async def post_chart(ctx: Ctx, incident: Incident, row: Evidence, collected: Collected) -> None:
    """Share the chart in the incident channel and chain the post (Slack does not echo the bot's uploads)."""
    chart = collected.chart
    if chart is None:
        return
    comment = f"*E{row.number}* `{echo(row.ref, 500)}` — {echo(collected.summary, 500)}" + (
        f"\n{echo(collected.caption, 2000)}" if collected.caption else "")
    try:
        resp = await ctx.client.files_upload_v2(channel=incident.channel_id, file=chart.data,
                                                filename=f"E{row.number}-{chart.name}", title=f"E{row.number} chart",
                                                initial_comment=comment, alt_txt=f"Chart of E{row.number}")
    except SlackApiError as exc:
        await ctx.reply(f":warning: The chart of E{row.number} is stored, but posting it failed "
                        f"({exc.response.get('error')}).")
        return
    files = [{"id": f.get("id"), "name": f"E{row.number}-{chart.name}"} for f in resp.get("files") or []]
    assert incident.id is not None
    async with ctx.deps.session() as session:
        await chain.append(session, incident_id=incident.id, kind="chart_posted", at=ctx.deps.now(),
                           actor=ctx.deps.bot_user_id, text=comment, data={"evidence": row.number, "files": files})
        await session.commit()


async def try_collect(ctx: Ctx, incident: Incident, item: evidence.EvidenceInput, *, in_channel: bool = False) -> bool:
    """Collect when a collector accepts the item (True), else leave it to the link-only path (False)."""
    collector = registry().find(_request(item), ctx.deps.settings)
    if collector is None:
        return False
    what = collector.describe(_request(item), ctx.deps.settings)
    await ctx.reply(f":hourglass_flowing_sand: Collecting {echo(what, 300)}…")
    out = await collect(ctx.deps, incident=incident, item=item, collector=collector, actor=ctx.user_id)
    text = outcome_text(out, what)
    if in_channel:
        await channels.post(ctx.client, ctx.deps, incident, text=text)
    else:
        await ctx.reply(text)
    if out.collected is not None and out.collected.chart is not None:
        await post_chart(ctx, incident, out.item, out.collected)
    return True


def _request(item: evidence.EvidenceInput) -> CollectRequest:
    return CollectRequest(item.kind, item.ref, dict(item.options))


async def collect_models(ctx: Ctx, incident: Incident) -> None:
    """At declaration: collect each `model=` from the registry as the incident's first evidence."""
    for model in incident.models:
        try:
            item = evidence.validate("model", model, "", {}, now=ctx.deps.now())
        except UsageError:
            continue  # not a registry reference; the declaration already keeps it as text
        await try_collect(ctx, incident, item, in_channel=True)


SUBCOMMANDS = datacheck_cmds.SUBCOMMANDS
