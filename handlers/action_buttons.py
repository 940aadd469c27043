"""Action-item buttons (in DMs, `/retro my` and the App Home) and the card's Add action item modal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import when
from bot.blocks.home import done_blocks, snoozed_blocks
from bot.blocks.ledger import action_changed_text, action_modal
from bot.blocks.modals import ModalMeta
from bot.deps import Deps
from bot.errors import RetroError
from bot.followup import action_items, cadence
from bot.ids import ActionId, CallbackId, Field
from bot.incident import hypotheses
from bot.slack import flows
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.parsing import numbered
from handlers.payloads import action_value, in_message, view_of
from handlers.viewstate import values_of

FIELD_OF = {"title": Field.TITLE, "owner": Field.OWNER, "due": Field.DUE, "kind": Field.ACTION_KIND,
            "hypothesis": Field.HYPOTHESIS}
DEFAULT_DUE_DAYS = 7


def _item_id(body: dict[str, Any]) -> int:
    value = action_value(body)
    return int(value) if value.isdigit() else 0


def register(app: AsyncApp, deps: Deps) -> None:
    """Register the action-item buttons and the Add action item modal."""

    async def snooze(body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, days: int) -> None:
        ctx = Ctx.of_interaction(deps, client, respond, body)
        async with deps.session() as session:
            item, incident = await action_items.by_id(session, _item_id(body), team_id=ctx.team_id)
            change, until = await action_items.snooze(session, catalog=deps.catalog, action_id=item.id or 0, days=days,
                                                 actor=ctx.user_id, now=deps.now())
        if in_message(body):
            today = cadence.local_today(deps.now(), deps.catalog.tz)
            blocks = snoozed_blocks(change.action, incident, today, deps.workspace_url.get(ctx.team_id),
                                    f":zzz: Next reminder {when(until)}.")
            await ctx.replace_message(f"A{item.number} snoozed", blocks)
        # personal: chained, not announced in the channel
        await flows.publish_change(client, deps, incident, change, None)

    @app.action(ActionId.ACTION_DONE)
    @guarded(deps)
    async def done(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, respond, body)
        async with deps.session() as session:
            item, incident = await action_items.by_id(session, _item_id(body), team_id=ctx.team_id)
            change = await action_items.complete(session, action_id=item.id or 0, note="", actor=ctx.user_id,
                                            now=deps.now())
        if in_message(body):
            await ctx.replace_message(f"A{item.number} done", done_blocks(
                change.action, f":white_check_mark: Done, {when(deps.now())}."))
        await flows.publish_change(client, deps, incident, change,
                                   action_changed_text(change.action, "done", ctx.user_id))

    @app.action(ActionId.ACTION_SNOOZE_DAY)
    @guarded(deps)
    async def snooze_day(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                         respond: AsyncRespond) -> None:
        await ack()
        await snooze(body, client, respond, 1)

    @app.action(ActionId.ACTION_SNOOZE_WEEK)
    @guarded(deps)
    async def snooze_week(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient,
                          respond: AsyncRespond) -> None:
        await ack()
        await snooze(body, client, respond, 7)

    @app.action(ActionId.OPEN_INCIDENT)
    @app.action(ActionId.OPEN_IN_RETRO)
    async def open_link(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opens the URL, the app only acknowledges the click

    @app.action(ActionId.ADD_ACTION)
    @guarded(deps)
    async def add_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = Ctx.of_interaction(deps, client, None, body)

        async def build() -> dict[str, Any]:
            incident = await ctx.incident_by_id(_item_id(body))  # a private incident: members only
            meta = ModalMeta(team_id=ctx.team_id, channel_id=ctx.channel_id, incident_id=incident.id)
            due = cadence.local_today(deps.now(), deps.catalog.tz) + timedelta(days=DEFAULT_DUE_DAYS)
            return action_modal(meta, action_items.KINDS, due)

        await ctx.open_modal("Add action item", build)

    @app.view(CallbackId.ACTION)
    @guarded(deps)
    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        ctx, meta = Ctx.of_modal(deps, client, body)
        v = values_of(view_of(body))
        raw_h = str(v.get(Field.HYPOTHESIS) or "").strip()
        try:
            hyp = numbered(raw_h, "H", action_items.ACTION_USAGE) if raw_h else None
        except RetroError:
            await ack(response_action="errors", errors={Field.HYPOTHESIS: "Write a hypothesis id like H2."})
            return
        try:
            item = action_items.validate(deps.catalog, title=str(v.get(Field.TITLE) or ""), owner=v.get(Field.OWNER),
                                    due=v.get(Field.DUE), kind=v.get(Field.ACTION_KIND), hypothesis=hyp,
                                    now=deps.now())
            incident = await ctx.incident_by_id(meta.incident_id or 0)  # membership may have changed meanwhile
            async with deps.session() as session:
                if hyp is not None:
                    await hypotheses.get(session, incident.id or 0, hyp)
        except action_items.ActionFieldError as exc:
            await ack(response_action="errors", errors={FIELD_OF[exc.field]: exc.problem[:150]})
            return
        except RetroError as exc:
            field = Field.HYPOTHESIS if hyp is not None else Field.TITLE
            await ack(response_action="errors", errors={field: (await ctx.plain_error(exc))[:150]})
            return
        await ack()
        await flows.create_action(client, deps, incident, item, actor=ctx.user_id)
