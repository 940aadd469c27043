"""`/retro pattern save | patterns`: the library of validated patterns (`/retro hypothesis from=P<n>` is in
ledger_cmds)."""

from __future__ import annotations

from bot.blocks.pattern_cards import library_blocks, saved_text
from bot.insights import patterns
from bot.slack import channels
from handlers.context import Ctx
from handlers.parsing import Parsed, numbered, page_number


def split_save(cmd: Parsed) -> tuple[int, list[int], str]:
    """`save H<n> [A<m> …]` and `name=`: the hypothesis, the action items (commas or spaces) and the name."""
    cmd.allow_options("name")
    if not cmd.words or cmd.words[0].lower() != "save":
        raise cmd.fail("Say `save`, then the confirmed hypothesis.")
    if len(cmd.words) < 2:
        raise cmd.fail("Name the confirmed hypothesis, like H1.")
    hypothesis = numbered(cmd.words[1], "H", cmd.usage)
    actions = [numbered(part, "A", cmd.usage) for word in cmd.words[2:] for part in word.split(",") if part]
    name = cmd.options.get("name", "").strip()
    if not name:
        raise cmd.fail('Name the pattern with name="…".')
    return hypothesis, actions, name


async def pattern(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro pattern save H<n> [A<m> …] name="…"`: a confirmed cause and its mitigations as a card."""
    hypothesis, actions, name = split_save(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        row = await patterns.save(session, incident=incident, hypothesis=hypothesis, actions=actions, name=name,
                                  actor=ctx.user_id, now=ctx.deps.now())
    await channels.post(ctx.client, ctx.deps, incident, text=saved_text(row, ctx.user_id))


async def patterns_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro patterns [category=…] [model=…] [words…] [page=N]`: the cards, best match first."""
    cmd.allow_options("category", "model", "page")
    page = page_number(cmd)
    category, model = cmd.options.get("category") or None, cmd.options.get("model") or None
    if category is not None and ctx.deps.catalog.category(category) is None:
        known = ", ".join(c.id for c in ctx.deps.catalog.categories)
        raise cmd.fail(f"`category=` takes one of: {known}.")
    async with ctx.deps.session() as session:
        every = await patterns.cards(session, ctx.team_id)
    found = patterns.library(every, category=category, model=model, words=list(cmd.words))
    await ctx.reply(f"{len(found)} pattern(s)", library_blocks(found, len(every), page=page))
