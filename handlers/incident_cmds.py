"""Subcommands of live capture: start, role, roles, triage, status, sev, note, timeline, evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.blocks import echo
from bot.blocks.confirm import close_question, declared_question
from bot.blocks.lists import evidence_list, timeline_page
from bot.blocks.modals import ModalMeta, declare_modal, triage_modal
from bot.blocks.verify_texts import close_warning
from bot.canonical import iso
from bot.collectors import promql
from bot.followup import action_items, cadence, verification
from bot.incident import evidence, incidents, lifecycle, roles, triage
from bot.incident.names import mentioned
from bot.record import timeline
from bot.record.ingest import IngestQueue
from bot.slack import channels, flows
from bot.slack.collect import collect_models
from bot.timeparse import spoken
from handlers.context import Ctx
from handlers.options import reason_of
from handlers.parsing import Parsed, metric_evidence, occurred, page_number, user_id, when
from storage.models import Incident

# `/retro triage` options: the template's times, typed instead of picked in the modal.
TRIAGE_TIMES = {"impact": "impact_start", "detected": "detected_at", "mitigated": "mitigated_at"}


def happened(ctx: Ctx, at: datetime | None) -> str:
    """` (happened at 10:05 CET)` after a reply about something given with `at=`; empty without it."""
    return f" ({ctx.happened(at)})" if at else ""


def because(reason: str) -> str:
    """The end of an announcement: `: <reason>` (as the channel reads it, never pinging), or a full stop."""
    return f": {echo(reason, 1500)}" if reason.strip() else "."


async def start(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro start <title> [sev=] [type=] [model=] [private=]`, or the declare modal without a title."""
    cmd.allow_options("sev", "type", "model", "private")
    if not cmd.words:
        if not ctx.confirmed and await _ask_before_declaring(ctx, cmd, title=""):
            return
        meta = ModalMeta(team_id=ctx.team_id, channel_id=ctx.channel_id, response_url=None)
        await ctx.client.views_open(trigger_id=ctx.trigger_id, view=declare_modal(ctx.deps.catalog, meta))
        return
    models = tuple(m for m in cmd.options.get("model", "").split(",") if m)
    decl = incidents.validate_declaration(ctx.deps.catalog, title=cmd.text(), severity=cmd.options.get("sev"),
                                          category=cmd.options.get("type"), private=cmd.options.get("private"),
                                          models=models)
    if not ctx.confirmed and await _ask_before_declaring(ctx, cmd, title=decl.title):
        return
    incident = await flows.declare(ctx.client, ctx.deps, decl, team_id=ctx.team_id, actor=ctx.user_id,
                                   from_channel=ctx.channel_id)
    await ctx.tell_declared(incident)
    await collect_models(ctx.client, ctx.deps, incident, actor=ctx.user_id, progress=ctx.reply)


async def _ask_before_declaring(ctx: Ctx, cmd: Parsed, *, title: str) -> bool:
    """Whether declaring waits for the caller to confirm it, having asked them "did you mean #inc-…?": they are in
    an incident's channel, or an open incident they can see has this title (case and spaces aside)."""
    async with ctx.deps.session() as session:
        here, same = await incidents.declared_like(session, ctx.team_id, channel_id=ctx.channel_id, title=title)
    same = await ctx.visible(same)
    if here is None and not same:
        return False
    meant = here or same[0]
    await ctx.ask(declared_question(here, same), f"{cmd.name} {cmd.raw}".strip(), yes="Declare a new incident",
                  cancelled=f"Nothing was declared; carry on in #{meant.channel_name} (<#{meant.channel_id}>).")
    return True


async def role(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro role <role> @user`."""
    cmd.allow_options()
    if len(cmd.words) < 2:
        raise cmd.fail(f"Name the person to take the {cmd.words[0][:40]} role: type @ and pick them." if cmd.words
                       else "Name the role and the person, like `comms @dana`.")
    # A role's name may be several words, unquoted: `/retro role data owner @dana`.
    await flows.assign_role(ctx.client, ctx.deps, await ctx.incident(), role=" ".join(cmd.words[:-1]),
                            user=user_id(cmd.words[-1], cmd.usage), actor=ctx.user_id)


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
    """`/retro triage`: open the template modal, pre-filled with the latest version; with `impact=`, `detected=` or
    `mitigated=`, record those times as the next version instead."""
    cmd.allow_options(*TRIAGE_TIMES)
    if cmd.options:
        now, tz = ctx.deps.now(), ctx.deps.catalog.tz
        times = {field: when(cmd, key, now=now, tz=tz) for key, field in TRIAGE_TIMES.items() if key in cmd.options}
        incident = await ctx.incident()
        async with ctx.deps.session() as session:
            version = await triage.set_times(session, incident=incident, times=times, actor=ctx.user_id, now=now)
        said = "; ".join(f"{triage.FIELDS[f].lower()}: {spoken(t, now=now, tz=tz)}" for f, t in times.items())
        await channels.post(ctx.client, ctx.deps, incident, thread_ts=incident.card_ts,
                            text=f"<@{ctx.user_id}> submitted triage template v{version.version} ({said}).")
        return

    async def build() -> dict[str, Any]:
        incident = await ctx.incident()
        assert incident.id is not None
        async with ctx.deps.session() as session:
            form = triage.form_of(await triage.latest(session, incident.id))
        meta = ModalMeta(team_id=ctx.team_id, channel_id=incident.channel_id, incident_id=incident.id)
        return triage_modal(form, meta)

    await ctx.open_modal("Triage", build)


async def status(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro status <state> [reason] [at=<when>]`."""
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    if not cmd.words:
        raise cmd.fail(f"Name the new status: {', '.join(lifecycle.STATUSES)}.")
    again = f"{cmd.name} {cmd.raw}" + (f" at={iso(at)}" if at else "")  # `at=-15m` stays the time it named
    cmd, reason = reason_of(cmd)
    incident = await ctx.incident()
    if not ctx.confirmed and await _ask_before_closing(ctx, incident, to=cmd.words[0], reason=reason, again=again):
        return
    async with ctx.deps.session() as session:
        incident = await lifecycle.change_status(session, catalog=ctx.deps.catalog, incident=incident,
                                                 to=cmd.words[0], actor=ctx.user_id, reason=reason,
                                                 now=ctx.deps.now(), at=at)
    await channels.post(ctx.client, ctx.deps, incident, text=f"<@{ctx.user_id}> set the status to "
                        f"*{incident.status}*{happened(ctx, at)}{because(reason)}")
    await channels.refresh_card(ctx.client, ctx.deps, incident)


async def _ask_before_closing(ctx: Ctx, incident: Incident, *, to: str, reason: str, again: str) -> bool:
    """Whether closing waits for the caller to confirm it (action items are still open, or mitigations not verified
    while the team's gate is `warn`), having asked them."""
    async with ctx.deps.session() as session:
        if await lifecycle.check_move(session, catalog=ctx.deps.catalog, incident=incident, to=to, actor=ctx.user_id,
                                      reason=reason) != "closed":
            return False
        still_open = [a for a in await action_items.listing(session, incident.id or 0) if a.status == "open"]
        warn = ctx.deps.catalog.verify.close_requires_verified == "warn"
        pending = await verification.unverified(session, ctx.deps.catalog, incident.id or 0) if warn else []
    if still_open or pending:
        today = cadence.local_today(ctx.deps.now(), ctx.deps.catalog.tz)
        lines = [*(close_question(incident, still_open, today) if still_open else []),
                 *(close_warning(incident, pending) if pending else [])]
        await ctx.ask(lines, again, yes="Close anyway",
                      cancelled=f"Not closed: #{incident.channel_name} stays {incident.status}.")
    return bool(still_open or pending)


async def sev(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro sev <level> [reason] [at=<when>]`."""
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    if not cmd.words:
        raise cmd.fail(f"Name the new severity level: {', '.join(str(s.level) for s in ctx.deps.catalog.severities)}.")
    cmd, reason = reason_of(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        incident = await lifecycle.change_severity(session, catalog=ctx.deps.catalog, incident=incident,
                                                   level=cmd.words[0], actor=ctx.user_id,
                                                   reason=reason, now=ctx.deps.now(), at=at)
    await channels.post(ctx.client, ctx.deps, incident, text=f"<@{ctx.user_id}> set the severity to "
                        f"SEV{incident.severity}{happened(ctx, at)}{because(reason)}")
    await channels.refresh_card(ctx.client, ctx.deps, incident)


async def note(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro note <text> [at=<when>]`: a key event, recorded verbatim."""
    now = ctx.deps.now()
    cmd, at = occurred(cmd, now=now, tz=ctx.deps.catalog.tz)
    if not cmd.rest:
        raise cmd.fail("A note needs some text.")
    late = (await ctx.incident()).status == "closed"  # outside an incident channel: the usual answer
    entry = await ctx.deps.get(IngestQueue).append(team_id=ctx.team_id, channel=ctx.channel_id, now=now,
                                                   entry=timeline.note_entry(text=cmd.rest, actor=ctx.user_id,
                                                                             now=now, at=at, after_close=late))
    if entry is None:
        raise cmd.fail("This command works inside an incident channel.")
    marked = " (added after the incident was closed, and marked so)" if late else ""
    await ctx.reply(f":pushpin: Noted as key event{happened(ctx, at)}{marked}: {echo(cmd.rest, 2500)}")


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
    names = await ctx.names(mentioned(e.text for e in entries))
    await ctx.reply(f"Timeline of #{incident.channel_name}",
                    timeline_page(incident, entries, page=page, show_all=show_all, tz=ctx.deps.catalog.tz,
                                  names=names))


async def evidence_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro evidence <kind> <ref> [note…] [options] [at=<when>]`, or the list (`page=N`) without arguments."""
    promql.refuse_unquoted(cmd.rest)  # before `at=` is taken out: the corrected command shows all that was typed
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    incident = await ctx.incident()
    assert incident.id is not None
    if not cmd.words and set(cmd.options) <= {"page"}:
        page = page_number(cmd)
        async with ctx.deps.session() as session:
            items = await evidence.listing(session, incident.id)
        await ctx.reply(f"{len(items)} evidence item(s)", evidence_list(incident, items, page=page))
        return
    item = replace(metric_evidence(cmd, now=ctx.deps.now())
                   or evidence.from_words(list(cmd.words), cmd.options, now=ctx.deps.now()), at=at)
    added = await flows.add_evidence(ctx.client, ctx.deps, incident, item, actor=ctx.user_id, progress=ctx.reply)
    for text in added.replies():
        await ctx.reply(text)

