"""`/retro action | actions | done | reassign | due | drop | my`."""

from __future__ import annotations

import re

from bot.blocks.home import my_items
from bot.blocks.ledger import action_changed_text, action_list
from bot.blocks.verify_texts import settings_text
from bot.followup import action_items, cadence, verification
from bot.followup.action_items import Change
from bot.followup.expectations import spoken
from bot.slack import flows
from handlers.context import Ctx
from handlers.parsing import Parsed, numbered, page_number, user_id
from storage.models import Incident

_LEAD = re.compile(r"^\s*(\S+)\s*(.*)$", re.DOTALL)


async def action(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro action <title> owner=@user due=<date> [kind=] [hypothesis=H<n>] [rollback="…"] [recheck=7d]`."""
    cmd.allow_options("owner", "due", "kind", "hypothesis", "rollback", "recheck")
    owner = user_id(cmd.options["owner"], cmd.usage) if cmd.options.get("owner") else None
    hypothesis = numbered(cmd.options["hypothesis"], "H", cmd.usage) if cmd.options.get("hypothesis") else None
    item = action_items.validate(ctx.deps.catalog, title=cmd.text(), owner=owner, due=cmd.options.get("due"),
                            kind=cmd.options.get("kind"), hypothesis=hypothesis, now=ctx.deps.now())
    rollback, recheck = verification.options_of(cmd.options, cmd.usage)
    if (rollback or recheck) and item.kind not in ctx.deps.catalog.verify.kinds:
        raise cmd.fail(f"`rollback=` and `recheck=` belong to mitigations (kinds: "
                       f"{', '.join(ctx.deps.catalog.verify.kinds)}), not a {item.kind} item.")
    change = await flows.create_action(ctx.client, ctx.deps, await ctx.incident(), item, actor=ctx.user_id)
    if rollback or recheck:
        async with ctx.deps.session() as session:
            _, due = await verification.configure(session, action=change.action, rollback=rollback, recheck=recheck,
                                                  actor=ctx.user_id, now=ctx.deps.now())
        await ctx.reply(settings_text(change.action, rollback, spoken(recheck) if recheck else None, due))


async def actions_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro actions [page=N]`: this incident's items."""
    cmd.allow_options("page")
    page = page_number(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        items = await action_items.listing(session, incident.id or 0)
        states = await verification.action_states(session, incident.id or 0, kinds=ctx.deps.catalog.verify.kinds)
    today = cadence.local_today(ctx.deps.now(), ctx.deps.catalog.tz)
    await ctx.reply(f"{len(items)} action item(s)", action_list(incident, items, today, page=page, states=states))


async def _target(ctx: Ctx, cmd: Parsed) -> tuple[Incident, int, str]:
    """The incident, the A<n> item's id and the raw text after it (notes keep `=` and quotes as typed)."""
    m = _LEAD.match(cmd.rest)
    if not m:
        raise cmd.fail("Name the action item, like A1.")
    number = numbered(m.group(1), "A", cmd.usage)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        item = await action_items.get(session, incident.id or 0, number)
    return incident, item.id or 0, m.group(2).strip()


async def _publish(ctx: Ctx, incident: Incident, change: Change, what: str) -> None:
    await flows.publish_change(ctx.client, ctx.deps, incident, change,
                               action_changed_text(change.action, what, ctx.user_id))


async def done(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro done A<n> [note]`."""
    incident, action_id, note = await _target(ctx, cmd)
    async with ctx.deps.session() as session:
        change = await action_items.complete(session, action_id=action_id, note=note, actor=ctx.user_id,
                                        now=ctx.deps.now())
    await _publish(ctx, incident, change, "done")


async def drop(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro drop A<n> <reason>`."""
    incident, action_id, reason = await _target(ctx, cmd)
    if not reason:
        raise cmd.fail("Dropping an action item needs a reason.")
    async with ctx.deps.session() as session:
        change = await action_items.drop(session, action_id=action_id, reason=reason, actor=ctx.user_id,
                                    now=ctx.deps.now())
    await _publish(ctx, incident, change, "dropped")


async def reassign(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro reassign A<n> @user`."""
    cmd.allow_options()
    if len(cmd.words) != 2:
        raise cmd.fail(f"Name the new owner of {cmd.words[0][:20]}: type @ and pick them." if len(cmd.words) == 1 else
                       "Name one action item and its new owner, like `A1 @dana`.")
    owner = user_id(cmd.words[1], cmd.usage)
    incident, action_id, _ = await _target(ctx, cmd)
    async with ctx.deps.session() as session:
        change = await action_items.reassign(session, action_id=action_id, owner=owner, actor=ctx.user_id,
                                        now=ctx.deps.now())
    what = f"reassigned from <@{change.previous_owner}> to <@{owner}>"
    await _publish(ctx, incident, change, what)


async def due(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro due A<n> <date>`."""
    cmd.allow_options()
    if len(cmd.words) < 2:
        raise cmd.fail(f"Give the new due date of {cmd.words[0][:20]}." if cmd.words else
                       "Name the action item, like A1, and its new due date.")
    new_due = action_items.parse_due_date(ctx.deps.catalog, " ".join(cmd.words[1:]), now=ctx.deps.now(),
                                          usage=cmd.usage)
    incident, action_id, _ = await _target(ctx, cmd)
    async with ctx.deps.session() as session:
        change = await action_items.set_due(session, catalog=ctx.deps.catalog, action_id=action_id, due=new_due,
                                       actor=ctx.user_id, now=ctx.deps.now())
    what = f"now due {new_due.isoformat()}"
    await _publish(ctx, incident, change, what)


async def my(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro my [page=N]` (any channel): your open items across incidents, overdue first, with buttons."""
    cmd.allow_options("page")
    page = page_number(cmd)
    if cmd.words:
        raise cmd.fail("`/retro my` takes no arguments.")
    async with ctx.deps.session() as session:
        items = await action_items.open_for_owner(session, ctx.team_id, ctx.user_id)
    today = cadence.local_today(ctx.deps.now(), ctx.deps.catalog.tz)
    await ctx.reply(f"You have {len(items)} open action item(s)",
                    my_items(items, today, ctx.deps.workspace_url.get(ctx.team_id), page=page))
