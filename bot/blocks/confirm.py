"""Questions asked before a command goes ahead (closing with open action items, declaring what looks declared
already): the question, and two buttons that carry the command itself, run again once it is confirmed."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.blocks.kit import Blocks, echo, line_sections, render, user, when
from bot.blocks.ledger import action_line
from bot.ids import ActionId
from storage.models import ActionItem, Incident

BUTTON_VALUE_MAX = 2000  # docs.slack.dev/reference/block-kit/block-elements/button-element (value)
# Text the list of open action items may take in the question (every item fits in 700 characters; the rest of the
# message stays far inside Slack's total).
LIST_BUDGET = 8000


class Confirmation(BaseModel):
    """What both buttons carry: the `/retro` command to run again (text after `/retro`, as Slack sent it), who
    may answer, and what to say when it is cancelled."""

    command: str
    user: str
    cancelled: str

    def value(self) -> str:
        """The button value (the caller checks it fits in BUTTON_VALUE_MAX)."""
        return self.model_dump_json()


def confirm_blocks(lines: list[str], request: Confirmation, *, yes: str, no: str = "Cancel") -> Blocks:
    """The question, then a button to go ahead and one not to."""
    value = request.value()
    blocks: list[Block] = [*line_sections(lines), ActionsBlock(block_id="confirm", elements=[
        ButtonElement(text=yes, action_id=ActionId.CONFIRM_COMMAND, value=value, style="danger"),
        ButtonElement(text=no, action_id=ActionId.CANCEL_COMMAND, value=value),
    ])]
    return render(blocks)


def close_question(incident: Incident, open_items: list[ActionItem], today: date) -> list[str]:
    """Asked before closing an incident that still has open action items: every one of them, or as many as fit and
    how many more there are (`/retro actions` lists them all)."""
    count = len(open_items)
    lines = [f":warning: *#{incident.channel_name} still has {count} open action item{'s' if count > 1 else ''}.* "
             "Closing keeps them open, owned and reminded. Close the incident anyway?"]
    used = 0
    for n, item in enumerate(sorted(open_items, key=lambda a: (a.due, a.number))):
        line = action_line(item, today)
        if used + len(line) > LIST_BUDGET:
            lines.append(f"…and {count - n} more: `/retro actions` lists every one.")
            break
        lines.append(line)
        used += len(line) + 1
    return lines


def declared_question(here: Incident | None, same_title: list[Incident]) -> list[str]:
    """Asked before declaring from an incident's channel, or with the title of an open incident."""
    lines = []
    if here is not None:
        lines.append(f":thinking_face: This is the channel of the {here.status} incident *{echo(here.title, 150)}* "
                     f"(declared {when(here.created_at)}). Did you mean #{here.channel_name} (<#{here.channel_id}>)? "
                     "`/retro note`, `/retro evidence` and the rest record into it from here.")
    for other in same_title:
        if here is not None and other.id == here.id:
            continue
        lines.append(f":thinking_face: An open incident already has this title: *{echo(other.title, 150)}*, "
                     f"{other.status}, declared {when(other.created_at)} by {user(other.declared_by)}. Did you mean "
                     f"#{other.channel_name} (<#{other.channel_id}>)?")
    lines.append("Declare a new incident anyway?")
    return lines
