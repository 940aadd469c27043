"""Modal submissions: declare, triage, evidence."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.confirm import declared_question
from bot.blocks.modals import ModalMeta, declare_modal
from bot.deps import Deps
from bot.errors import RetroError, UsageError
from bot.ids import CallbackId, Field
from bot.incident import evidence, incidents, triage
from bot.slack import channels, flows
from bot.slack.collect import collect_models
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.payloads import view_of
from handlers.viewstate import values_of
from storage.models import Incident

# Slack wants a view_submission answered within 3 s of sending it; a membership check (a Slack call) gets this
# much of that time, after which the submission is acknowledged and the check finishes afterwards.
CHECK_WITHIN = 1.5


async def checked_incident(ack: AsyncAck, ctx: Ctx, meta: ModalMeta, field: Field) -> Incident | None:
    """Acknowledge with the modal's incident checked (they may have left its channel); None after an error ack.

    When the check outlasts CHECK_WITHIN, the ack goes first and a refusal reaches the person as a reply instead.
    """
    lookup = asyncio.ensure_future(ctx.incident_by_id(meta.incident_id or 0))
    try:
        incident = await asyncio.wait_for(asyncio.shield(lookup), CHECK_WITHIN)
    except TimeoutError:
        await ack()
        return await lookup
    except RetroError as exc:
        await ack(response_action="errors", errors={field: (await ctx.plain_error(exc)).split("\n")[0][:150]})
        return None
    await ack()
    return incident


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the modal submissions."""

    def ctx_of(body: dict[str, Any], client: AsyncWebClient) -> tuple[Ctx, ModalMeta, dict[str, Any]]:
        ctx, meta = Ctx.of_modal(deps, client, body)
        return ctx, meta, values_of(view_of(body))

    @app.view(CallbackId.DECLARE)
    @guarded(deps)
    async def on_declare(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        ctx, meta, v = ctx_of(body, client)
        models = tuple(m.strip() for m in str(v.get(Field.MODELS) or "").split(",") if m.strip())
        try:
            decl = incidents.validate_declaration(deps.catalog, title=str(v.get(Field.TITLE) or ""),
                                                  severity=v.get(Field.SEVERITY), category=v.get(Field.CATEGORY),
                                                  models=models, description=str(v.get(Field.DESCRIPTION) or ""))
        except UsageError as exc:
            block = Field.MODELS if "model" in exc.problem else Field.TITLE
            await ack(response_action="errors", errors={block: exc.problem[:150]})
            return
        if not meta.asked:  # an open incident with this title? Ask in the modal, which then declares anyway
            async with deps.session() as session:
                _, same = await incidents.declared_like(session, ctx.team_id, channel_id="", title=decl.title)
            if same := await ctx.visible(same):
                fields = (Field.TITLE, Field.SEVERITY, Field.CATEGORY, Field.MODELS, Field.DESCRIPTION)
                filled = {str(f): str(v.get(f) or "") for f in fields}
                await ack(response_action="update", view=declare_modal(
                    deps.catalog, meta.model_copy(update={"asked": True}), question=declared_question(None, same),
                    filled=filled))
                return
        await ack()
        incident = await flows.declare(client, deps, decl, team_id=ctx.team_id, actor=ctx.user_id,
                                       from_channel=ctx.channel_id)
        await ctx.tell_declared(incident)
        await collect_models(client, deps, incident, actor=ctx.user_id, progress=ctx.reply)

    @app.view(CallbackId.TRIAGE)
    @guarded(deps)
    async def on_triage(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        ctx, meta, v = ctx_of(body, client)
        try:
            form = triage.TriageForm.model_validate({k: v.get(k) or None for k in triage.FIELDS}
                                                    | {k: v.get(k) or "" for k in triage.FIELDS
                                                       if k not in triage.TIMES})
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            await ack(response_action="errors", errors={field: exc.errors()[0]["msg"][:150]})
            return
        if (wrong := form.problem(deps.now())) is not None:
            await ack(response_action="errors", errors={wrong[0]: wrong[1]})
            return
        incident = await checked_incident(ack, ctx, meta, Field.WHAT_HAPPENED)
        if incident is None:
            return
        async with deps.session() as session:
            version = await triage.submit(session, incident=incident, form=form, actor=ctx.user_id, now=deps.now())
            missing = form.missing(deps.catalog.triage.required)
        text = f"<@{ctx.user_id}> submitted triage template v{version.version}."
        if missing:
            text += f" Still missing: {', '.join(triage.FIELDS[m] for m in missing if m in triage.FIELDS)}."
        await channels.post(client, deps, incident, text=text, thread_ts=incident.card_ts)

    @app.view(CallbackId.EVIDENCE)
    @guarded(deps)
    async def on_evidence(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        ctx, meta, v = ctx_of(body, client)
        try:
            item = evidence.validate(str(v.get(Field.KIND) or ""), str(v.get(Field.REF) or ""),
                                     str(v.get(Field.NOTE) or ""), {}, now=deps.now())
        except RetroError as exc:
            await ack(response_action="errors", errors={Field.REF: (await ctx.plain_error(exc)).split("\n")[0][:150]})
            return
        incident = await checked_incident(ack, ctx, meta, Field.REF)
        if incident is None:
            return
        added = await flows.add_evidence(client, deps, incident, item, actor=ctx.user_id, progress=ctx.reply)
        for text in added.replies():
            await ctx.reply(text)
