"""The offer posted in a new incident's channel: earlier incidents it may recur, each with Confirm / Not related
buttons until someone answers, then the answer in their place."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject, MarkdownTextObject, SectionBlock

from bot.blocks.kit import Blocks, context, echo, render, user, when
from bot.catalog import Catalog
from bot.ids import ActionId
from bot.insights.recurrence import CONFIRMED, DISMISSED, Offer

BLOCK_PREFIX = "recurrence:"  # + the offer's link id: one actions block per earlier incident


def offer_line(offer: Offer, catalog: Catalog) -> str:
    """One earlier incident as the offer names it, with why it was offered."""
    e = offer.earlier
    sev = catalog.severity(e.severity)
    if offer.reason == "model":
        why = f"same model ({echo(', '.join(offer.shared), 200)})"
    else:
        cat = catalog.category(e.category)
        why = f"same category ({echo(cat.name if cat else e.category, 100)})"
        if offer.cause:
            why += (f" and its confirmed cause “{echo(offer.cause, 300)}” shares "
                    f"{echo(', '.join(offer.shared), 200)} with this title")
    return (f":repeat: *Possible recurrence of #{e.channel_name}* (<#{e.channel_id}>): {echo(e.title, 150)} — "
            f"{sev.name if sev else f'SEV{e.severity}'}, {e.status}, declared {when(e.created_at)}; {why}.")


def answer_line(offer: Offer) -> str:
    """What became of an answered offer."""
    if offer.state == CONFIRMED:
        return (f":white_check_mark: Confirmed by {user(offer.decided_by)} as a recurrence of "
                f"#{offer.earlier.channel_name}.")
    if offer.state == DISMISSED:
        return f":heavy_multiplication_x: Marked not related by {user(offer.decided_by)}."
    return ""


def offers_text(offers: list[Offer]) -> str:
    """The message's fallback text (notifications, clients without blocks)."""
    names = ", ".join(f"#{o.earlier.channel_name}" for o in offers)
    return f"Possible recurrence of {names}: confirm it, or mark it not related."


def offer_blocks(offers: list[Offer], catalog: Catalog) -> Blocks:
    """Each earlier incident, then its buttons (still open) or the answer (given)."""
    blocks: list[Block] = []
    for offer in offers:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=offer_line(offer, catalog))))
        if offer.state in (CONFIRMED, DISMISSED):
            blocks.append(context(answer_line(offer)))
            continue
        value = str(offer.link_id)
        blocks.append(ActionsBlock(block_id=f"{BLOCK_PREFIX}{offer.link_id}", elements=[
            ButtonElement(text="Confirm recurrence", action_id=ActionId.RECURRENCE_CONFIRM, value=value,
                          style="primary", confirm=ConfirmObject(
                              title="Confirm the recurrence?", confirm="Confirm", deny="Cancel",
                              text=f"Recorded in this incident's timeline as a recurrence of "
                                   f"#{offer.earlier.channel_name}; it counts in /retro stats.")),
            ButtonElement(text="Not related", action_id=ActionId.RECURRENCE_DISMISS, value=value),
        ]))
    blocks.append(context("Confirmed recurrences appear in the postmortem and in `/retro stats` (how many verified "
                          "fixes held)."))
    return render(blocks)
