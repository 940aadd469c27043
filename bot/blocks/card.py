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

from bot.blocks.kit import (
    MESSAGE_TEXT_BUDGET,
    SECTION_MAX,
    Blocks,
    clip,
    context,
    echo,
    line_sections,
    render,
    text_size,
    user,
    web_button,
    when,
)
from bot.catalog import Catalog, Role
from bot.ids import ActionId
from bot.safety import escape_mrkdwn, neutralise
from storage.models import Incident

STATUS_EMOJI = {"investigating": ":mag:", "mitigated": ":adhesive_bandage:", "resolved": ":white_check_mark:",
                "closed": ":lock:"}


NAME_MAX = 80  # a configured name (severity, category, role) as the card and the roles prompt show it


def card_blocks(incident: Incident, roles: dict[str, str], catalog: Catalog, web_base: str | None = None) -> Blocks:
    """The pinned incident card: title, severity, category, status, every role and the main buttons."""
    sev = catalog.severity(incident.severity)
    cat = catalog.category(incident.category)
    sev_name = clip(sev.name if sev else str(incident.severity), NAME_MAX)
    value = str(incident.id)
    held = [f"*{clip(r.name, NAME_MAX)}:* {user(roles.get(r.id))}" for r in catalog.roles]
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"{sev_name}: {neutralise(incident.title)}", 150)),
        SectionBlock(fields=[
            MarkdownTextObject(text=f"*Severity*\n{sev_name}"),
            MarkdownTextObject(text=f"*Category*\n{clip(cat.name if cat else incident.category, NAME_MAX)}"),
            MarkdownTextObject(text=f"*Status*\n{STATUS_EMOJI.get(incident.status, '')} {incident.status}"),
            MarkdownTextObject(text=f"*Declared*\n{when(incident.created_at)} by {user(incident.declared_by)}"),
        ]),
        *line_sections(held),
    ]
    if incident.models:
        blocks.append(context("Models: " + echo(", ".join(incident.models), 2000)))
    if sev:
        blocks.append(context(f"_{sev_name}_: {echo(sev.criteria, 2000)}"))
    blocks.append(ActionsBlock(block_id="card_actions", elements=[
        ButtonElement(text="Assign roles", action_id=ActionId.ASSIGN_ROLES, value=value),
        ButtonElement(text="Triage", action_id=ActionId.OPEN_TRIAGE, value=value, style="primary"),
        ButtonElement(text="Add evidence", action_id=ActionId.ADD_EVIDENCE, value=value),
        ButtonElement(text="Add action item", action_id=ActionId.ADD_ACTION, value=value),
        ButtonElement(text="Postmortem", action_id=ActionId.POSTMORTEM, value=value),
        *([link] if (link := web_button(web_base, incident.id)) else []),
    ]))
    return render(blocks)


def _role_section(role: Role, holder: str | None, duties_max: int) -> SectionBlock:
    picker = UserSelectElement(placeholder=clip(f"Pick the {role.name.lower()}", 60),
                               action_id=f"{ActionId.ROLE_SELECT}:{role.id}", initial_user=holder)
    state = f"held by {user(holder)}" if holder else "_unfilled_"
    duties = f"\n{clip(role.duties, duties_max)}" if duties_max > 0 and role.duties else ""
    return SectionBlock(block_id=f"role:{role.id}", accessory=picker, text=MarkdownTextObject(
        text=clip(f"*{clip(role.name, NAME_MAX)}* — {state}{duties}", SECTION_MAX)))


def roles_prompt_blocks(incident: Incident, roles: dict[str, str], catalog: Catalog) -> Blocks:
    """One message in the card's thread with a user picker for every role (unfilled roles first).

    It is one message that later changes are written into (chat.update), so it is never split: the catalog holds
    at most MAX_ROLES roles, and when every role's duties in full would not fit, each gets an equal share of the
    room (the full duties are told when someone takes the role).
    """
    ordered = sorted(catalog.roles, key=lambda r: r.id in roles)
    head = SectionBlock(text=MarkdownTextObject(
        text=f"*Roles for this incident.* The commander ({user(roles.get('commander'))}) picks people below; "
             "each pick is recorded in the timeline."))
    blocks: list[Block] = [head, *(_role_section(r, roles.get(r.id), SECTION_MAX) for r in ordered)]
    if text_size([b.to_dict() for b in blocks]) > MESSAGE_TEXT_BUDGET:
        bare = text_size([head.to_dict(), *(_role_section(r, roles.get(r.id), 0).to_dict() for r in ordered)])
        share = (MESSAGE_TEXT_BUDGET - bare) // max(1, len(ordered)) - 1  # the newline before the duties
        blocks = [head, *(_role_section(r, roles.get(r.id), share) for r in ordered)]
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


def help_blocks(usage: dict[str, str], footnote: str = "") -> Blocks:
    """The command list, and a footnote under it (what `<when>` means)."""
    return render([
        SectionBlock(text=MarkdownTextObject(text="*Retro* records ML incidents: timeline, evidence, hypotheses, "
                                                  "actions and a drafted postmortem.")),
        DividerBlock(),
        *line_sections([f"`{escape_mrkdwn(line)}`" for line in usage.values()]),
        *([context(escape_mrkdwn(footnote))] if footnote else []),
    ])
