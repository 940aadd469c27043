"""What the postmortem learns and who reviews it: `/retro lesson | trigger | factor | review`."""

from __future__ import annotations

import re
from datetime import datetime

from bot.blocks import echo
from bot.blocks.postmortem import review_line
from bot.postmortem import learning, review
from bot.slack import channels
from handlers.context import Ctx
from handlers.parsing import Parsed, numbered, occurred, user_id

_HYPOTHESIS = re.compile(r"^[Hh]\d{1,6}$")


async def lesson(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro lesson well|wrong|lucky <text>`: during the incident or after it."""
    if len(cmd.words) < 2:
        raise cmd.fail("Say which kind of lesson (`well`, `wrong` or `lucky`) and what it is.")
    kind, text = cmd.words[0].lower(), cmd.after_first_word()
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        await learning.add_lesson(session, incident=incident, kind=kind, text=text, actor=ctx.user_id,
                                  now=ctx.deps.now())
    await ctx.reply(f":bulb: Lesson recorded under *{learning.LESSON_KINDS[kind]}*: {echo(text, 2500)}\n"
                    "It goes into the postmortem's *Lessons learned*.")


async def _mark(ctx: Ctx, cmd: Parsed, kind: str, at: datetime | None = None) -> str:
    """Record the trigger or a contributing factor, in words or as `H<n>` (with words after it, if any); returns how
    the reply names it."""
    named = numbered(cmd.words[0], "H", cmd.usage) if cmd.words and _HYPOTHESIS.match(cmd.words[0]) else None
    text = cmd.after_first_word() if named is not None else cmd.rest.strip()
    if named is None and not text:
        raise cmd.fail("Say what it was, or name a hypothesis of the ledger (H<n>).")
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        await learning.mark(session, incident=incident, kind=kind, text=text, hypothesis=named, actor=ctx.user_id,
                            now=ctx.deps.now(), at=at, usage=cmd.usage)
    return f"H{named}" + (f": {echo(text, 2500)}" if text else "") if named is not None else echo(text, 2500)


async def trigger(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro trigger <what set it off>|H<n> [at=<when>]`: the trigger, apart from the root cause (the latest wins)."""
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    what = await _mark(ctx, cmd, learning.TRIGGER, at)
    when = f" ({ctx.happened(at)})" if at else ""
    await ctx.reply(f":dart: Trigger recorded{when}: {what}\nThe postmortem states it apart from the root cause; "
                    "a later `/retro trigger` replaces it.")


async def factor(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro factor <condition>|H<n>`: a contributing factor."""
    what = await _mark(ctx, cmd, learning.FACTOR)
    await ctx.reply(f":jigsaw: Contributing factor recorded: {what}")


async def review_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro review [request @user … [owner=@user] | approve [note] | changes <note>]`."""
    action = cmd.words[0].lower() if cmd.words else ""
    incident = await ctx.incident()
    if not action:
        async with ctx.deps.session() as session:
            state = await review.current(session, incident)
        await ctx.reply(review_line(state))
        return
    if action == "request":
        cmd.allow_options("owner")
        reviewers = [user_id(w, cmd.usage) for w in cmd.words[1:]]
        owner = user_id(cmd.options["owner"], cmd.usage) if "owner" in cmd.options else None
        async with ctx.deps.session() as session:
            state = await review.request(session, incident=incident, reviewers=reviewers, owner=owner,
                                         actor=ctx.user_id, now=ctx.deps.now())
        asked = ", ".join(f"<@{r}>" for r in reviewers)
        text = (f"<@{ctx.user_id}> asked {asked} to review the postmortem. Reviewers: `/retro review approve [note]` "
                f"or `/retro review changes <what to change>`.\n{review_line(state)}")
    elif action in review.VERDICTS:
        note = cmd.after_first_word()
        async with ctx.deps.session() as session:
            state = await review.decide(session, incident=incident, verdict=review.VERDICTS[action], note=note,
                                        actor=ctx.user_id, now=ctx.deps.now())
        said = "approved the postmortem" if action == "approve" else "asked for changes to the postmortem"
        text = f"<@{ctx.user_id}> {said}{': ' + echo(note, 2000) if note else '.'}\n{review_line(state)}"
    else:
        raise cmd.fail(f"`{action[:30]}` is not understood here: `request`, `approve` or `changes`.")
    await channels.post(ctx.client, ctx.deps, incident, text=text)
