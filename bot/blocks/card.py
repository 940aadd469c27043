"""The incident card, the roles prompt in its thread, the declaration notice and help."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
    UserSelectElement,
)

from bot.blocks.kit import Blocks, clip, context, echo, render, user, when
from bot.catalog import Catalog
from bot.ids import ActionId
from bot.safety import escape_mrkdwn, neutralise
from storage.models import Incident

STATUS_EMOJI = {"investigating": ":mag:", "mitigated": ":adhesive_bandage:", "resolved": ":white_check_mark:",
                "closed": ":lock:"}


def card_blocks(incident: Incident, roles: dict[str, str], catalog: Catalog) -> Blocks:
    """The pinned incident card: title, severity, category, status, roles and the main buttons."""
    sev = catalog.severity(incident.severity)
    cat = catalog.category(incident.category)
    value = str(incident.id)
    held = [f"*{r.name}:* {user(roles.get(r.id))}" for r in catalog.roles]
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{sev.name if sev else incident.severity}: {neutralise(incident.title)}", 150)),
        SectionBlock(fields=[
            MarkdownTextObject(text=f"*Severity*\n{sev.name if sev else incident.severity}"),
            MarkdownTextObject(text=f"*Category*\n{cat.name if cat else incident.category}"),
            MarkdownTextObject(text=f"*Status*\n{STATUS_EMOJI.get(incident.status, '')} {incident.status}"),
            MarkdownTextObject(text=f"*Declared*\n{when(incident.created_at)} by {user(incident.declared_by)}"),
        ]),
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join(held), 3000))),
    ]
    if incident.models:
        blocks.append(context("Models: " + echo(", ".join(incident.models), 2000)))
    if sev:
        blocks.append(context(f"_{sev.name}_: {echo(sev.criteria, 2000)}"))
    blocks.append(ActionsBlock(block_id="card_actions", elements=[
        ButtonElement(text="Assign roles", action_id=ActionId.ASSIGN_ROLES, value=value),
        ButtonElement(text="Triage", action_id=ActionId.OPEN_TRIAGE, value=value, style="primary"),
        ButtonElement(text="Add evidence", action_id=ActionId.ADD_EVIDENCE, value=value),
        ButtonElement(text="Add action item", action_id=ActionId.ADD_ACTION, value=value),
        ButtonElement(text="Postmortem", action_id=ActionId.POSTMORTEM, value=value),
    ]))
    return render(blocks)


def roles_prompt_blocks(incident: Incident, roles: dict[str, str], catalog: Catalog) -> Blocks:
    """One message in the card's thread with a user picker per role (unfilled roles first)."""
    ordered = sorted(catalog.roles, key=lambda r: r.id in roles)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(
        text=f"*Roles for this incident.* The commander ({user(roles.get('commander'))}) picks people below; "
             "each pick is recorded in the timeline."))]
    for role in ordered[:45]:
        holder = roles.get(role.id)
        picker = UserSelectElement(placeholder=f"Pick the {role.name.lower()}"[:150],
                                   action_id=f"{ActionId.ROLE_SELECT}:{role.id}", initial_user=holder)
        state = f"held by {user(holder)}" if holder else "_unfilled_"
        blocks.append(SectionBlock(block_id=f"role:{role.id}", text=MarkdownTextObject(
            text=clip(f"*{role.name}* — {state}\n{role.duties}", 3000)), accessory=picker))
    return render(blocks)


def duties_text(role_name: str, duties: str, uid: str) -> str:
    """Told in the thread when someone takes a role."""
    return f"{user(uid)} is now *{role_name}*. {echo(duties, 2000)}"


def declared_reply(incident: Incident, catalog: Catalog) -> str:
    """Told to the declarer: the new channel and the severity's criteria."""
    sev = catalog.severity(incident.severity)
    criteria = f" {sev.name}: {echo(sev.criteria)}" if sev else ""
    return f"Declared <#{incident.channel_id}>.{criteria}"


def declared_notice(incident: Incident, catalog: Catalog) -> str:
    """The short notice posted in the channel where the incident was declared."""
    sev = catalog.severity(incident.severity)
    return (f":rotating_light: {sev.name if sev else incident.severity} incident declared by "
            f"{user(incident.declared_by)}: *{echo(incident.title, 150)}* → <#{incident.channel_id}>")


def help_blocks(usage: dict[str, str]) -> Blocks:
    """The command list."""
    lines = "\n".join(f"`{escape_mrkdwn(line)}`" for line in usage.values())
    return render([
        SectionBlock(text=MarkdownTextObject(text="*Retro* records ML incidents: timeline, evidence, hypotheses, "
                                                  "actions and a drafted postmortem.")),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=clip(lines, 3000))),
    ])
