"""Action items with their buttons: the App Home, `/retro my` and the owner's DMs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.kit import Blocks, clip, context, echo, paged, render, user, web_button
from bot.blocks.ledger import due_phrase
from bot.blocks.pattern_cards import home_patterns
from bot.catalog import Catalog
from bot.ids import ActionId
from bot.insights.patterns import Card
from storage.models import ActionItem, Incident

# The Home tab takes 100 blocks: 30 items (two blocks each) and 30 incidents, each list followed by how many more
# there are and where to see them, fit with room for the headers.
HOME_ITEMS_MAX = 30
HOME_INCIDENTS_MAX = 30


def incident_link(incident: Incident, base_url: str | None) -> str:
    """A link that opens the incident's channel (the workspace URL when known, Slack's redirector otherwise)."""
    if base_url:
        return f"{base_url.rstrip('/')}/archives/{incident.channel_id}"
    return f"https://slack.com/app_redirect?channel={incident.channel_id}&team={incident.team_id}"


def item_buttons(a: ActionItem, incident: Incident, base_url: str | None) -> ActionsBlock:
    """Done, Snooze 1 day, Snooze 1 week, Open incident (the value is the item's id)."""
    value = str(a.id)
    return ActionsBlock(block_id=f"action_item:{a.id}", elements=[
        ButtonElement(text="Done", action_id=ActionId.ACTION_DONE, value=value, style="primary"),
        ButtonElement(text="Snooze 1 day", action_id=ActionId.ACTION_SNOOZE_DAY, value=value),
        ButtonElement(text="Snooze 1 week", action_id=ActionId.ACTION_SNOOZE_WEEK, value=value),
        ButtonElement(text="Open incident", action_id=ActionId.OPEN_INCIDENT, value=str(incident.id),
                      url=incident_link(incident, base_url)),
    ])


def item_section(a: ActionItem, incident: Incident, today: date) -> SectionBlock:
    """The item, its incident and how it stands against its due date."""
    hyp = f" · tests H{a.hypothesis}" if a.hypothesis else ""
    return SectionBlock(text=MarkdownTextObject(text=clip(
        f"*A{a.number}* `{a.kind}` {echo(a.title, 1500)}\n<#{incident.channel_id}> · "
        f"{echo(incident.title, 200)}\n{due_phrase(a.due, today)}{hyp}", 3000)))


def item_with_buttons(a: ActionItem, incident: Incident, today: date, base_url: str | None) -> list[Block]:
    """An item and its buttons."""
    return [item_section(a, incident, today), item_buttons(a, incident, base_url)]


def my_items(items: list[tuple[ActionItem, Incident]], today: date, base_url: str | None, *,
             page: int = 1) -> Blocks:
    """`/retro my [page=N]`: the caller's open items across incidents, overdue first, with their buttons."""
    if not items:
        return render([SectionBlock(text=MarkdownTextObject(text="You have no open action items. :tada:"))])
    overdue = sum(1 for a, _ in items if a.due < today)
    blocks: list[Block] = [context(f"*Your open action items:* {len(items)}" + (f", {overdue} overdue" if overdue
                                                                                 else ""))]
    groups = [item_with_buttons(a, incident, today, base_url) for a, incident in items]
    return render(paged(blocks, groups, page=page, command="/retro my"))


def home_view(items: list[tuple[ActionItem, Incident]], incidents: list[tuple[Incident, str | None]],
              catalog: Catalog, today: date, base_url: str | None, *,
              patterns: Sequence[Card] | None = None, web_base: str | None = None) -> dict[str, Any]:
    """The App Home: your open action items (overdue first, with buttons), then the open incidents you are in, then
    the workspace's pattern library (when given)."""
    overdue = sum(1 for a, _ in items if a.due < today)
    title = f"Your action items ({len(items)})" + (f" · {overdue} overdue" if overdue else "")
    blocks: list[Block] = [HeaderBlock(text=clip(title, 150))]
    if not items:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing open. :tada:")))
    for a, incident in items[:HOME_ITEMS_MAX]:
        blocks.extend(item_with_buttons(a, incident, today, base_url))
    if len(items) > HOME_ITEMS_MAX:
        blocks.append(context(f"…and {len(items) - HOME_ITEMS_MAX} more: `/retro my` lists them all, page by page."))
    blocks += [DividerBlock(), HeaderBlock(text=clip(f"Your open incidents ({len(incidents)})", 150))]
    if not incidents:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="You are not part of any open incident.")))
    for incident, role in incidents[:HOME_INCIDENTS_MAX]:
        sev = catalog.severity(incident.severity)
        role_text = f" · you are *{clip(role, 300)}*" if role else ""
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(
            f"*{clip(sev.name if sev else str(incident.severity), 80)}* <#{incident.channel_id}> — "
            f"{echo(incident.title, 200)}\n{incident.status} · {incident.category}{role_text}", 3000)),
            accessory=web_button(web_base, incident.id)))
    if len(incidents) > HOME_INCIDENTS_MAX:
        blocks.append(context(f"…and {len(incidents) - HOME_INCIDENTS_MAX} more: `/retro list` lists every open "
                              "incident, page by page."))
    if patterns is not None:
        blocks += [DividerBlock(), *home_patterns(patterns)]
    web = f" Every incident, postmortem and trend: <{web_base}/|Retro on the web>." if web_base else ""
    blocks.append(context(f"Updated whenever one of these changes. `/retro help` lists every command.{web}"))
    view = View(type="home", blocks=blocks)  # at most 98 blocks; slack_sdk refuses a view over 100
    data: dict[str, Any] = view.to_dict()
    return data


def assigned_dm(a: ActionItem, incident: Incident, by: str | None, today: date, base_url: str | None) -> Blocks:
    """Told to a new owner, with the item's buttons."""
    head = SectionBlock(text=MarkdownTextObject(text=clip(
        f":ballot_box_with_check: {user(by)} gave you an action item in <#{incident.channel_id}>:", 3000)))
    return render([head, *item_with_buttons(a, incident, today, base_url)])


def reminder_dm(a: ActionItem, incident: Incident, kind: str, today: date, base_url: str | None) -> Blocks:
    """A due-soon, due, overdue or snoozed reminder to the owner, with the item's buttons."""
    lead = {"due_soon": ":hourglass_flowing_sand: Coming up:", "due": ":alarm_clock: Due today:",
            "overdue": ":warning: Overdue:", "snoozed": ":bell: Snoozed reminder:"}.get(kind, "Reminder:")
    if kind in ("due_soon", "due") and a.due < today:
        lead = ":warning: Overdue:"
    head = SectionBlock(text=MarkdownTextObject(text=lead))
    return render([head, *item_with_buttons(a, incident, today, base_url)])


def escalation_dm(a: ActionItem, incident: Incident, days: int, base_url: str | None) -> Blocks:
    """Told to the commander once when an item is long overdue."""
    text = (f":rotating_light: *A{a.number}* {echo(a.title, 1500)} in <#{incident.channel_id}> is {days} "
            f"day{'s' if days != 1 else ''} overdue (due {a.due.isoformat()}, owner {user(a.owner)}). "
            "You are the incident's commander: reassign it, move its due date or drop it with a reason.")
    return render([SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))), ActionsBlock(elements=[
        ButtonElement(text="Open incident", action_id=ActionId.OPEN_INCIDENT, value=str(incident.id),
                      url=incident_link(incident, base_url))])])


def done_blocks(a: ActionItem, what: str) -> Blocks:
    """Replaces a DM's buttons once the owner has acted on it (`what` is bot-worded)."""
    return render([SectionBlock(text=MarkdownTextObject(text=clip(
        f"*A{a.number}* {echo(a.title, 1500)}\n{what}", 3000)))])


def snoozed_blocks(a: ActionItem, incident: Incident, today: date, base_url: str | None, note: str) -> Blocks:
    """A DM after a snooze: the item, its buttons (still usable) and when the next reminder comes."""
    return render([*item_with_buttons(a, incident, today, base_url), context(note)])
