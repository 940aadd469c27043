"""`/retro postmortem | stats | search | similar` and the card's Postmortem button."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.insights import search_blocks, similar_blocks, stats_blocks
from bot.blocks.postmortem import draft_summary, file_uploads, summary_text, upload_comment
from bot.deps import Deps
from bot.ids import ActionId
from bot.incident import incidents
from bot.insights import search, stats
from bot.postmortem import document, draft
from bot.postmortem.timeline_picture import timeline_png
from bot.slack import channels
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.parsing import Parsed
from storage.models import Incident

log = logging.getLogger("retro.postmortem")
NAME_LOOKUPS = 8


async def display_names(client: AsyncWebClient, uids: list[str]) -> dict[str, str]:
    """Slack display names for user ids (best effort: a failed lookup leaves the id as it is)."""
    limit = asyncio.Semaphore(NAME_LOOKUPS)

    async def one(uid: str) -> tuple[str, str | None]:
        async with limit:
            try:
                user = (await client.users_info(user=uid))["user"]
            except SlackApiError:
                return uid, None
        profile = user.get("profile") or {}
        return uid, profile.get("display_name") or user.get("name") or profile.get("real_name") or None

    found = await asyncio.gather(*(one(uid) for uid in uids))
    return {uid: name for uid, name in found if name}


async def draft_and_post(ctx: Ctx, incident: Incident) -> None:
    """Render (failing before anything is posted), record the version, post the summary and attach the files."""
    deps = ctx.deps
    async with deps.session() as session:
        doc = await document.build(session, incident, catalog=deps.catalog,
                                   people=await draft.latest_people(session, incident.id or 0))
    doc = document.with_people(doc, await display_names(ctx.client, document.user_ids(doc)))
    markdown, findings = await asyncio.to_thread(draft.prepare, deps.templates, doc, deps.catalog)
    png = await asyncio.to_thread(timeline_png, doc)
    async with deps.session() as session:
        recorded = await draft.record_draft(session, incident=incident, doc=doc, markdown=markdown,
                                              findings=findings, actor=ctx.user_id, now=deps.now())
    ts = await channels.post(ctx.client, deps, incident, text=summary_text(doc, recorded.version),
                             blocks=draft_summary(doc, version=recorded.version, sha256=recorded.sha256,
                                                  findings=findings))
    try:
        await ctx.client.files_upload_v2(file_uploads=file_uploads(doc, markdown, png, recorded.version),
                                         channel=incident.channel_id, thread_ts=ts,
                                         initial_comment=upload_comment(recorded.version, findings))
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("postmortem upload failed for incident %s: %s", incident.id, error)
        await channels.post(ctx.client, deps, incident, thread_ts=ts,
                            text=f"Could not attach the files ({error}). Draft v{recorded.version} is stored; "
                                 f"`retro export {incident.channel_name}` writes it with the timeline.")


async def postmortem_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro postmortem`: draft (again) from everything recorded so far."""
    cmd.allow_options()
    if cmd.words:
        raise cmd.fail("`postmortem` takes no arguments.")
    await draft_and_post(ctx, await ctx.incident())


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
    await ctx.reply(f"{found.incidents} incident(s) in the last {period.label}", stats_blocks(found, ctx.deps.catalog))


async def search_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro search <words> [model=…] [category=…]`."""
    cmd.allow_options("model", "category")
    async with ctx.deps.session() as session:
        hits = await search.search(session, team_id=ctx.team_id, query=cmd.text(), model=cmd.options.get("model"),
                                   category=cmd.options.get("category"))
    await ctx.reply(f"{len(hits)} past incident(s) match", search_blocks(cmd.text(), hits, ctx.deps.catalog))


async def similar_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro similar`: earlier incidents on the same model or in the same category."""
    cmd.allow_options()
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        found = await search.similar(session, incident)
    await ctx.reply(f"{len(found)} similar past incident(s)", similar_blocks(found))


SUBCOMMANDS = {"postmortem": postmortem_cmd, "stats": stats_cmd, "search": search_cmd, "similar": similar_cmd}


def register(app: AsyncApp, deps: Deps) -> None:
    """The Postmortem button (on the incident card and on each draft's summary); checks the templates once."""
    try:
        draft.check_templates(deps.templates)
    except draft.TemplateError as exc:  # capture keeps working; drafting reports the same error until fixed
        log.error("postmortem templates are broken: %s", exc.user_message)

    @app.action(ActionId.POSTMORTEM)
    @guarded(deps)
    async def postmortem_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                                respond: AsyncRespond) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, respond, body)
        value = str((body.get("actions") or [{}])[0].get("value") or "")
        await draft_and_post(ctx, await ctx.incident_by_id(value))  # a private incident: members only
