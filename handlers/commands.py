"""The `/retro` router: ack, parse, then hand the typed command to its subcommand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import help_blocks
from bot.blocks.lists import incident_list
from bot.deps import Deps
from bot.incident import incidents
from bot.incident.roles import current_roles
from bot.safety import escape_mrkdwn
from handlers import (
    action_cmds,
    audit_cmds,
    confirmations,
    datacheck_cmds,
    incident_cmds,
    insights_cmds,
    ledger_cmds,
    pattern_cmds,
    postmortem_cmds,
    rerun_cmds,
    review_cmds,
    verify_cmds,
)
from handlers.context import Ctx
from handlers.guard import guarded
from handlers.parsing import DATE_HELP, USAGE, WHEN_HELP, Parsed, page_number, parse

Subcommand = Callable[[Ctx, Parsed], Awaitable[None]]


async def help_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro help`: the command list."""
    await ctx.reply("Retro commands:\n" + escape_mrkdwn("\n".join([*USAGE.values(), WHEN_HELP, DATE_HELP])),
                    help_blocks(USAGE, f"{WHEN_HELP}\n{DATE_HELP}"))


async def list_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro list [page=N]`: open incidents with severity, age and commander."""
    cmd.allow_options("page")
    page = page_number(cmd)
    async with ctx.deps.session() as session:
        found = await incidents.open_incidents(session, ctx.team_id)
    found = await ctx.visible(found)
    async with ctx.deps.session() as session:
        items = [(i, (await current_roles(session, i.id or 0)).get("commander")) for i in found]
    await ctx.reply(f"{len(items)} open incident(s)", incident_list(items, ctx.deps.catalog, ctx.deps.now(), page=page))


def subcommands() -> dict[str, Subcommand]:
    """Every subcommand by name, each from its area's module."""
    return {
        "help": help_cmd, "list": list_cmd,
        # live capture
        "start": incident_cmds.start, "role": incident_cmds.role, "roles": incident_cmds.roles_cmd,
        "triage": incident_cmds.triage_cmd, "status": incident_cmds.status, "sev": incident_cmds.sev,
        "note": incident_cmds.note, "timeline": incident_cmds.timeline_cmd, "evidence": incident_cmds.evidence_cmd,
        "datacheck": datacheck_cmds.datacheck, "rerun": rerun_cmds.rerun_cmd,
        # the hypothesis ledger
        "hypothesis": ledger_cmds.hypothesis, "hypotheses": ledger_cmds.ledger, "test": ledger_cmds.test,
        "confirm": ledger_cmds.verdict, "refute": ledger_cmds.verdict, "inconclusive": ledger_cmds.verdict,
        # action items
        "action": action_cmds.action, "actions": action_cmds.actions_cmd, "done": action_cmds.done,
        "drop": action_cmds.drop, "reassign": action_cmds.reassign, "due": action_cmds.due, "my": action_cmds.my,
        "check": verify_cmds.check,
        # the postmortem, and what past incidents say
        "postmortem": postmortem_cmds.postmortem, "lesson": review_cmds.lesson, "trigger": review_cmds.trigger,
        "factor": review_cmds.factor, "review": review_cmds.review_cmd,
        "stats": insights_cmds.stats_cmd, "search": insights_cmds.search_cmd, "similar": insights_cmds.similar_cmd,
        "pattern": pattern_cmds.pattern, "patterns": pattern_cmds.patterns_cmd,
        # audits of the process
        "audit": audit_cmds.audit_cmd, "audits": audit_cmds.audits_cmd,
    }


def register(app: AsyncApp, deps: Deps) -> None:
    """Register `/retro`, and the buttons that run a command again once its asker confirmed it."""
    table = subcommands()
    confirmations.register(app, deps, table)

    @app.command("/retro")
    @guarded(deps)
    async def retro(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        cmd = parse(str(body.get("text") or ""))
        handler = table.get(cmd.name)
        if handler is None:
            raise cmd.fail(f"`{cmd.name}` is not available in this version of Retro.")
        await handler(Ctx.of_command(deps, client, respond, body), cmd)
