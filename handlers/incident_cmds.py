"""Subcommands of live capture: start, role, roles, triage, status, sev, note, timeline, evidence."""

from __future__ import annotations

from typing import Any

from bot.blocks import echo
from bot.blocks.lists import evidence_list, timeline_page
from bot.blocks.modals import ModalMeta, declare_modal, triage_modal
from bot.incident import evidence, incidents, lifecycle, roles, triage
from bot.record import timeline
from bot.record.ingest import IngestQueue
from bot.slack import channels, flows
from bot.slack.collect import collect_models
from handlers.context import Ctx
from handlers.parsing import Parsed, metric_evidence, page_number, user_id


async def start(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro start <title> [sev=] [type=] [model=] [private=]`, or the declare modal without a title."""
    cmd.allow_options("sev", "type", "model", "private")
    if not cmd.words:
        meta = ModalMeta(team_id=ctx.team_id, channel_id=ctx.channel_id, response_url=None)
        await ctx.client.views_open(trigger_id=ctx.trigger_id, view=declare_modal(ctx.deps.catalog, meta))
        return
    models = tuple(m for m in cmd.options.get("model", "").split(",") if m)
    decl = incidents.validate_declaration(ctx.deps.catalog, title=cmd.text(), severity=cmd.options.get("sev"),
                                          category=cmd.options.get("type"), private=cmd.options.get("private"),
                                          models=models)
    incident = await flows.declare(ctx.client, ctx.deps, decl, team_id=ctx.team_id, actor=ctx.user_id,
                                   from_channel=ctx.channel_id)
    await ctx.tell_declared(incident)
    await collect_models(ctx.client, ctx.deps, incident, actor=ctx.user_id, progress=ctx.reply)


async def role(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro role <role> @user`."""
    cmd.allow_options()
    if len(cmd.words) != 2:
        raise cmd.fail("Name one role and one person.")
    await flows.assign_role(ctx.client, ctx.deps, await ctx.incident(), role=cmd.words[0],
                            user=user_id(cmd.words[1], cmd.usage), actor=ctx.user_id)


async def roles_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro roles`: who holds what, and the history."""
    incident = await ctx.incident()
    assert incident.id is not None
    async with ctx.deps.session() as session:
        history = await roles.role_history(session, incident.id)
    lines = [f"{'•' if r.ended_at is None else '◦'} {r.role}: <@{r.user_id}> since {r.assigned_at:%H:%M} UTC"
             + (f" until {r.ended_at:%H:%M}" if r.ended_at else "") for r in history]
    await ctx.reply("\n".join(lines) or "No roles assigned.")


async def triage_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro triage`: open the template modal, pre-filled with the latest version."""

    async def build() -> dict[str, Any]:
        incident = await ctx.incident()
        assert incident.id is not None
        async with ctx.deps.session() as session:
            form = triage.form_of(await triage.latest(session, incident.id))
        meta = ModalMeta(team_id=ctx.team_id, channel_id=incident.channel_id, incident_id=incident.id)
        return triage_modal(form, meta)

    await ctx.open_modal("Triage", build)


async def status(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro status <state> [reason]`."""
    if not cmd.words:
        raise cmd.fail("Name the new status.")
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        incident = await lifecycle.change_status(session, catalog=ctx.deps.catalog, incident=incident,
                                                 to=cmd.words[0], actor=ctx.user_id, reason=cmd.after_first_word(),
                                                 now=ctx.deps.now())
    await channels.post(ctx.client, ctx.deps, incident, text=f"<@{ctx.user_id}> set the status to *{incident.status}*.")
    await channels.refresh_card(ctx.client, ctx.deps, incident)


async def sev(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro sev <level> [reason]`."""
    if not cmd.words:
        raise cmd.fail("Name the new severity level.")
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        incident = await lifecycle.change_severity(session, catalog=ctx.deps.catalog, incident=incident,
                                                   level=cmd.words[0], actor=ctx.user_id,
                                                   reason=cmd.after_first_word(), now=ctx.deps.now())
    await channels.post(ctx.client, ctx.deps, incident,
                        text=f"<@{ctx.user_id}> set the severity to SEV{incident.severity}.")
    await channels.refresh_card(ctx.client, ctx.deps, incident)


async def note(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro note <text>`: a key event, recorded verbatim."""
    if not cmd.rest:
        raise cmd.fail("A note needs some text.")
    now = ctx.deps.now()
    entry = await ctx.deps.get(IngestQueue).append(team_id=ctx.team_id, channel=ctx.channel_id, now=now,
                                         entry=timeline.note_entry(text=cmd.rest, actor=ctx.user_id, now=now))
    if entry is None:  # not an incident channel: the usual answer, listing the open incidents
        await ctx.incident()
        raise cmd.fail("This command works inside an incident channel.")
    await ctx.reply(f":pushpin: Noted as key event #{entry.seq}: {echo(cmd.rest, 2500)}")


async def timeline_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro timeline [all] [page=N]`."""
    cmd.allow_options("page")
    show_all = [w.lower() for w in cmd.words] == ["all"]
    if cmd.words and not show_all:
        raise cmd.fail(f"`{cmd.words[0]}` is not understood here; use `all` or nothing.")
    page = page_number(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        entries = await timeline.entries(session, incident.id or 0, key_only=not show_all)
    await ctx.reply(f"Timeline of #{incident.channel_name}",
                    timeline_page(incident, entries, page=page, show_all=show_all))


async def evidence_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro evidence <kind> <ref> [note…] [options]`, or the list (`page=N`) without arguments."""
    incident = await ctx.incident()
    assert incident.id is not None
    if not cmd.words and set(cmd.options) <= {"page"}:
        page = page_number(cmd)
        async with ctx.deps.session() as session:
            items = await evidence.listing(session, incident.id)
        await ctx.reply(f"{len(items)} evidence item(s)", evidence_list(incident, items, page=page))
        return
    if len(cmd.words) < 2:
        raise cmd.fail("Give a kind and a reference.")
    item = metric_evidence(cmd, now=ctx.deps.now()) or evidence.validate(
        cmd.words[0], cmd.words[1], " ".join(cmd.words[2:]), cmd.options, now=ctx.deps.now())
    added = await flows.add_evidence(ctx.client, ctx.deps, incident, item, actor=ctx.user_id, progress=ctx.reply)
    for text in added.replies():
        await ctx.reply(text)

