"""Pattern cards in Slack: offered in a new incident's thread when it is declared."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.pattern_cards import suggestion_blocks, suggestion_text
from bot.deps import Deps
from bot.insights import pattern_use, patterns
from bot.slack.channels import post
from storage.models import Incident

log = logging.getLogger("retro.patterns")


async def suggest(client: AsyncWebClient, deps: Deps, incident: Incident) -> list[int]:
    """Post the cards that best fit a new incident (the team's `patterns.suggestions`, none when turned off) in the
    thread of its card, and note them; returns their numbers. Best effort: the incident is declared either way."""
    config = deps.catalog.patterns
    if not config.suggest_on_declare or config.suggestions == 0:
        return []
    async with deps.session() as session:
        found = patterns.suggestions(await patterns.cards(session, incident.team_id), incident, config.suggestions)
    if not found:
        return []
    try:
        await post(client, deps, incident, text=suggestion_text(found), blocks=suggestion_blocks(found),
                   thread_ts=incident.card_ts)
    except SlackApiError as exc:
        log.warning("pattern suggestions not posted in incident %s: %s", incident.id, exc.response.get("error"))
        return []
    async with deps.session() as session:
        await pattern_use.record_suggested(session, incident=incident, offered=found, now=deps.now())
    return [c.number for c in found]
