"""Prompts in incident channels, the weekly digest and delivery-failure notices."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.kit import Blocks, clip, context, echo, line_sections, render, split_message, user
from bot.blocks.ledger import action_line
from bot.ids import ActionId
from bot.incident.triage import FIELDS
from storage.models import ActionItem, Incident


def status_prompt_text(mention: tuple[str, ...], minutes: int, severity: str, every: int) -> str:
    """Asks the commander for a status update."""
    who = " ".join(user(u) for u in mention) or "Commander"
    return (f":loudspeaker: {who} no status update for {minutes} min ({severity}: every {every} min). "
            "Post one here: current impact, what changed, next step and when the next update comes "
            "(a `/retro note`, a status or severity change also counts).")


def triage_prompt(incident: Incident, mention: tuple[str, ...], missing: tuple[str, ...]) -> tuple[str, Blocks]:
    """Asks commander and scribe to fill the triage template, with its button."""
    who = " ".join(user(u) for u in mention) or "Commander"
    names = ", ".join(FIELDS.get(m, m) for m in missing)
    text = f":clipboard: {who} the triage template still misses: {names}."
    return text, render([SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))), ActionsBlock(elements=[
        ButtonElement(text="Fill in triage", action_id=ActionId.OPEN_TRIAGE, value=str(incident.id),
                      style="primary")])])


def digest(items: list[tuple[ActionItem, Incident]], today: date) -> list[tuple[str, Blocks]]:
    """The weekly digest, overdue items first, each with its incident and owner: every open item, in as many
    messages as Slack's caps need (the first goes in the channel, the rest in its thread)."""
    overdue = [(a, i) for a, i in items if a.due < today]
    upcoming = [(a, i) for a, i in items if a.due >= today]
    summary = f"{len(items)} open action item{'s' if len(items) != 1 else ''}, {len(overdue)} overdue"
    blocks: list[Block] = [HeaderBlock(text=clip(f"Weekly action items · {today.isoformat()}", 150)),
                           context(summary)]
    if not items:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No open action items. :tada:")))
    for title, group in (("Overdue", overdue), ("Open", upcoming)):
        if group:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{title} ({len(group)})*")))
            blocks.extend(line_sections([action_line(a, today, incident=i) for a, i in group]))
    parts = split_message(blocks)
    if len(parts) == 1:
        return [(f"Weekly action items: {summary}", parts[0])]
    return [(f"Weekly action items: {summary} (part {n} of {len(parts)})", part)
            for n, part in enumerate(parts, start=1)]


def failure_text(kind: str, number: int | None, attempts: int, error: str, incident: Incident | None) -> str:
    """Told to the commander once when a reminder could not be delivered."""
    what = f"the {kind.replace('_', '-')} reminder" + (f" for *A{number}*" if number else "")
    where = f" of <#{incident.channel_id}>" if incident else ""
    return (f":warning: I could not deliver {what}{where} after {attempts} attempt{'s' if attempts != 1 else ''} "
            f"(Slack said `{echo(error, 100)}`). Please follow up in person; the failure is on the incident's "
            "timeline.")
