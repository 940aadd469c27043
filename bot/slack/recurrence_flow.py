"""Recurrence in Slack: the offer posted when an incident is declared, and the answer to it."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import Blocks
from bot.blocks.recurrence_offer import offer_blocks, offers_text
from bot.deps import Deps
from bot.insights import recurrence
from bot.slack.channels import post
from storage.models import Incident

log = logging.getLogger("retro.recurrence")


async def offer_recurrences(client: AsyncWebClient, deps: Deps, incident: Incident) -> list[recurrence.Offer]:
    """Offer the earlier incidents the new one may recur (recorded first), in its channel. Best effort: the incident
    is declared whatever happens here; a failure is logged (the offers recorded stay)."""
    config = deps.catalog.recurrence
    if config.offers == 0:
        return []
    try:
        async with deps.session() as session:
            offers = await recurrence.offer(session, incident, config, now=deps.now())
    except SQLAlchemyError:
        log.exception("could not look for recurrences of incident %s", incident.id)
        return []
    if offers:
        try:
            await post(client, deps, incident, text=offers_text(offers), blocks=offer_blocks(offers, deps.catalog))
        except SlackApiError as exc:
            log.warning("could not offer recurrences in incident %s: %s", incident.id, exc.response.get("error"))
    return offers


async def answer_offer(deps: Deps, *, link_id: int, team_id: str, channel_id: str, confirmed: bool,
                       actor: str) -> tuple[recurrence.Decided, str, Blocks]:
    """Record the answer (once) and return it with the offer message as it now reads (text and blocks)."""
    async with deps.session() as session:
        decided = await recurrence.decide(session, link_id=link_id, team_id=team_id, channel_id=channel_id,
                                          confirmed=confirmed, actor=actor, now=deps.now())
        offers = await recurrence.offers_of(session, decided.incident)
    return decided, offers_text(offers), offer_blocks(offers, deps.catalog)
