"""`/retro stats | search | similar`: what past incidents say."""

from __future__ import annotations

from bot.blocks.insights import search_blocks, similar_blocks, stats_blocks
from bot.incident import incidents
from bot.insights import outcomes, search, stats
from handlers.context import Ctx
from handlers.parsing import Parsed, page_number


async def stats_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro stats [period=90d] [category=…]`."""
    cmd.allow_options("period", "category")
    if cmd.words:
        raise cmd.fail("Use `period=` and `category=` options.")
    period = stats.parse_period(cmd.options.get("period", "90d"), now=ctx.deps.now())
    async with ctx.deps.session() as session:
        private = await incidents.private_in_team(session, ctx.team_id)
    hidden = {i.id for i in private} - {i.id for i in await ctx.visible(private)}  # not the reader's to count
    async with ctx.deps.session() as session:
        found = await stats.compute(session, catalog=ctx.deps.catalog, team_id=ctx.team_id, period=period,
                                    category=cmd.options.get("category") or None, now=ctx.deps.now(),
                                    hidden={i for i in hidden if i is not None})
        after = await outcomes.compute_outcomes(session, catalog=ctx.deps.catalog, team_id=ctx.team_id,
                                                incident_ids=found.incident_ids, now=ctx.deps.now())
    await ctx.reply(f"{found.incidents} incident(s) in the last {period.label}",
                    stats_blocks(found, ctx.deps.catalog, after))


async def search_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro search <words> [model=…] [category=…] [page=N]`."""
    cmd.allow_options("model", "category", "page")
    page = page_number(cmd)
    async with ctx.deps.session() as session:
        hits = await search.search(session, team_id=ctx.team_id, query=cmd.text(), model=cmd.options.get("model"),
                                   category=cmd.options.get("category"))
    await ctx.reply(f"{len(hits)} past incident(s) match", search_blocks(cmd.text(), hits, ctx.deps.catalog, page=page))


async def similar_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro similar [page=N]`: earlier incidents on the same model or in the same category."""
    cmd.allow_options("page")
    page = page_number(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        found = await search.similar(session, incident)
    await ctx.reply(f"{len(found)} similar past incident(s)", similar_blocks(found, page=page))
