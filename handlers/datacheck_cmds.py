"""`/retro datacheck`: compare two data snapshots shared in the incident channel, keep the report as evidence."""

from __future__ import annotations

from bot.blocks.collected import comparing_text, datacheck_failed_text, datacheck_queued_text, datacheck_stored_text
from bot.slack import snapshots
from bot.slack.snapshots import DataCheck
from handlers.context import Ctx
from handlers.options import thresholds
from handlers.parsing import Parsed


async def datacheck(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro datacheck baseline=<E#|file|runs:/…|models:/…> current=<…> [key=…] [psi=…] [ks=…] [nulls=…]`."""
    cmd.allow_options("baseline", "current", "key", "psi", "ks", "nulls")
    missing = [k for k in ("baseline", "current") if not cmd.options.get(k)]
    if missing or cmd.words:
        which = " and ".join(f"{k}=" for k in missing) or "both snapshots as baseline= and current="
        raise cmd.fail(f"Give {which}: an evidence id like E2, or a file's link or name.")
    check = DataCheck(cmd.options["baseline"], cmd.options["current"],
                      [k.strip() for k in cmd.options.get("key", "").split(",") if k.strip()],
                      thresholds(ctx.deps.settings, ctx.deps.catalog.datacheck, cmd), cmd.usage)
    incident = await ctx.incident()
    await ctx.reply(comparing_text(check.baseline, check.current))

    async def queued(place: int) -> None:
        await ctx.reply(datacheck_queued_text(place))

    done = await snapshots.run(ctx.client, ctx.deps, incident, check, actor=ctx.user_id, on_queued=queued)
    await ctx.reply(datacheck_failed_text(done.row, done.error) if done.error else datacheck_stored_text(done.row))
