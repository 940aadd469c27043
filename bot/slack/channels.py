"""The incident channel in Slack: creating it, posting (and recording the post), the pinned card, invites."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Blocks, card_blocks, echo, roles_prompt_blocks
from bot.deps import Deps
from bot.errors import ConflictError
from bot.incident import incidents
from bot.incident.roles import current_roles
from bot.record import timeline
from storage.models import Incident

log = logging.getLogger("retro.slack")
MAX_NAME_ATTEMPTS = 5


async def create_channel(client: AsyncWebClient, deps: Deps, *, team_id: str, title: str,
                         private: bool) -> tuple[str, str]:
    """Create `inc-<date>-<slug>`, taking the next free `-N` when Slack answers name_taken."""
    base = incidents.base_channel_name(title, deps.now())
    async with deps.session() as session:
        n = await incidents.first_free_name(session, team_id, base)
    for attempt in range(n, n + MAX_NAME_ATTEMPTS):
        name = incidents.suffixed(base, attempt)
        try:
            resp = await client.conversations_create(name=name, is_private=private)
        except SlackApiError as exc:
            if exc.response.get("error") == "name_taken":
                continue
            raise
        channel = resp["channel"]
        return str(channel["id"]), str(channel["name"])
    raise ConflictError(f"Could not find a free channel name for {base!r}; try a different title.")


async def post(client: AsyncWebClient, deps: Deps, incident: Incident, *, text: str, blocks: Blocks | None = None,
               thread_ts: str | None = None) -> str:
    """Post in the incident channel and record the post now (its echo as an event is skipped by the middleware)."""
    resp = await client.chat_postMessage(channel=incident.channel_id, text=text, blocks=blocks, thread_ts=thread_ts,
                                         unfurl_links=False, unfurl_media=False)
    ts = str(resp["ts"])
    async with deps.session() as session:
        await timeline.record_bot_post(session, incident=incident, ts=ts, text=text, thread_ts=thread_ts,
                                       now=deps.now(), bot_user=deps.bot_user_id)
    return ts


async def refresh_card(client: AsyncWebClient, deps: Deps, incident: Incident) -> None:
    """Update the pinned card and the roles prompt after a change (best effort: the record is already safe)."""
    assert incident.id is not None
    async with deps.session() as session:
        roles = await current_roles(session, incident.id)
    try:
        if incident.card_ts:
            await client.chat_update(channel=incident.channel_id, ts=incident.card_ts,
                                     text=f"Incident: {echo(incident.title, 150)}",
                                     blocks=card_blocks(incident, roles, deps.catalog, deps.settings.web_base))
        if incident.roles_ts:
            await client.chat_update(channel=incident.channel_id, ts=incident.roles_ts, text="Roles for this incident",
                                     blocks=roles_prompt_blocks(incident, roles, deps.catalog))
    except SlackApiError as exc:
        log.warning("card refresh failed for incident %s: %s", incident.id, exc.response.get("error"))


async def invite(client: AsyncWebClient, channel_id: str, user: str) -> None:
    """Invite a user, treating `already_in_channel` as success."""
    try:
        await client.conversations_invite(channel=channel_id, users=user)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("already_in_channel", "cant_invite_self"):
            raise
