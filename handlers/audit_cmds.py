"""`/retro audit | audits`: audits of the retrospective process, run and kept."""

from __future__ import annotations

from bot.blocks.audit_report import audit_parts, audits_list
from bot.insights import audit_log
from bot.insights.audits import audit_period
from handlers.context import Ctx
from handlers.parsing import Parsed, page_number


async def audit_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro audit [period=90d]`: audit the incidents closed in the period, record the audit and show it."""
    cmd.allow_options("period")
    if cmd.words:
        raise cmd.fail("Use the `period=` option, e.g. `period=30d`.")
    period = audit_period(cmd.options.get("period", "90d"), now=ctx.deps.now())
    async with ctx.deps.session() as session:
        row = await audit_log.record(session, settings=ctx.deps.settings, catalog=ctx.deps.catalog,
                                     team_id=ctx.team_id, period=period, run_by=ctx.user_id, now=ctx.deps.now())
        await session.commit()
        total = await audit_log.count(session, ctx.team_id)
    for text, blocks in audit_parts(row.report, number=total, sha256=row.report_sha256):
        await ctx.reply(text, blocks)


async def audits_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro audits [page=N]`: the audits run so far, newest first."""
    cmd.allow_options("page")
    page = page_number(cmd)
    async with ctx.deps.session() as session:
        found, total = await audit_log.listing(session, ctx.team_id, page=page)
    await ctx.reply(f"{total} process audit(s)", audits_list(found, total, page=page))
