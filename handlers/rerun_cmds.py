"""`/retro rerun E<n> …`: recorded analyses run again, each outcome kept as evidence."""

from __future__ import annotations

from bot.blocks.collected import datacheck_queued_text
from bot.blocks.rerun_texts import rerun_started_text
from bot.slack import rerun_flow
from handlers.context import Ctx
from handlers.parsing import Parsed, numbered


async def rerun_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro rerun E<n> [E<n> …]`."""
    cmd.allow_options()
    if not cmd.words:
        raise cmd.fail("Name the evidence to run again, like `/retro rerun E4`.")
    numbers = list(dict.fromkeys(numbered(word, "E", cmd.usage) for word in cmd.words))
    incident = await ctx.incident()
    await ctx.reply(rerun_started_text(numbers))

    async def queued(place: int) -> None:
        await ctx.reply(datacheck_queued_text(place))

    await rerun_flow.run(ctx.client, ctx.deps, incident, numbers, actor=ctx.user_id, usage=cmd.usage,
                         on_queued=queued)
