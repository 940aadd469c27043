"""Slack-side workflows: the Web API calls around the domain services (channel, card, posts, files)."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import incidents, timeline
from bot.blocks import Blocks, card_blocks, echo, roles_prompt_blocks
from bot.deps import Deps
from bot.errors import ConflictError, RetroError
from bot.roles import current_roles
from bot.safety import neutralise
from storage.models import Incident

log = logging.getLogger("retro.slack")
MAX_NAME_ATTEMPTS = 5
MAX_FILE_BYTES = 50 * 1024 * 1024


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
    """Post in the incident channel and record the post (Slack does not send the bot its own messages)."""
    resp = await client.chat_postMessage(channel=incident.channel_id, text=text, blocks=blocks, thread_ts=thread_ts,
                                         unfurl_links=False, unfurl_media=False)
    ts = str(resp["ts"])
    async with deps.session() as session:
        await timeline.record_bot_post(session, incident=incident, ts=ts, text=text, thread_ts=thread_ts,
                                       now=deps.now(), bot_user=deps.bot_user_id)
    return ts


async def open_incident(client: AsyncWebClient, deps: Deps, *, team_id: str, decl: incidents.Declaration,
                        user: str, from_channel: str) -> Incident:
    """Declare: channel, record, invite, topic, card (pinned) and roles thread — seven Web API calls."""
    channel_id, channel_name = await create_channel(client, deps, team_id=team_id, title=decl.title,
                                                    private=decl.private)
    async with deps.session() as session:
        incident = await incidents.create(session, team_id=team_id, decl=decl, declared_by=user,
                                          declared_in=from_channel, channel_id=channel_id,
                                          channel_name=channel_name, now=deps.now())
    await client.conversations_invite(channel=channel_id, users=user)
    sev = deps.catalog.severity(decl.severity)
    topic = f"{sev.name if sev else decl.severity} · {decl.category} · investigating · {neutralise(decl.title)}"
    await client.conversations_setTopic(channel=channel_id, topic=topic[:250])
    roles = {"commander": user}
    card_ts = await post(client, deps, incident, text=f"Incident: {echo(decl.title, 150)}",
                         blocks=card_blocks(incident, roles, deps.catalog))
    await client.pins_add(channel=channel_id, timestamp=card_ts)
    roles_ts = await post(client, deps, incident, text="Roles for this incident",
                          blocks=roles_prompt_blocks(incident, roles, deps.catalog), thread_ts=card_ts)
    async with deps.session() as session:
        incident.card_ts, incident.roles_ts = card_ts, roles_ts
        session.add(incident)
        await session.commit()
    return incident


async def refresh_card(client: AsyncWebClient, deps: Deps, incident: Incident) -> None:
    """Update the pinned card and the roles prompt after a change (best effort: the record is already safe)."""
    assert incident.id is not None
    async with deps.session() as session:
        roles = await current_roles(session, incident.id)
    try:
        if incident.card_ts:
            await client.chat_update(channel=incident.channel_id, ts=incident.card_ts,
                                     text=f"Incident: {echo(incident.title, 150)}",
                                     blocks=card_blocks(incident, roles, deps.catalog))
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


_FILE_ID = re.compile(r"(?:^|/)(F[A-Z0-9]{6,})(?:/|$)")


def file_id_in(ref: str) -> str | None:
    """The Slack file id in a reference (`F0123ABC` or a files.slack.com / permalink URL), if any."""
    m = _FILE_ID.search(ref.strip())
    return m.group(1) if m else None


async def is_member(client: AsyncWebClient, channel_id: str, user_id: str) -> bool:
    """Whether someone is a member of a channel (asked of Slack, page by page)."""
    cursor = None
    while True:
        resp = await client.conversations_members(channel=channel_id, cursor=cursor, limit=1000)
        if user_id in (resp.get("members") or []):
            return True
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return False


def require_shared_in(info: dict[str, Any], channel_id: str) -> None:
    """Refuse a file that was not shared in this channel: the bot can read files of channels the caller cannot."""
    shares = info.get("shares") or {}
    places = {*(info.get("channels") or []), *(info.get("groups") or []), *(info.get("ims") or []),
              *(shares.get("public") or {}), *(shares.get("private") or {})}
    if channel_id not in places:
        raise RetroError(f"File {info.get('id') or ''} was not shared in this channel; share it here first.")


async def file_digest(client: AsyncWebClient, file_id: str, *, channel_id: str) -> tuple[str, dict[str, object]]:
    """Download a Slack file shared in `channel_id` with the bot token and return its SHA-256 and metadata."""
    info = (await client.files_info(file=file_id))["file"]
    require_shared_in(info, channel_id)
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise RetroError(f"Slack gave no download address for file {file_id}.")
    digest = hashlib.sha256()
    size = 0
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(
        url, headers={"Authorization": f"Bearer {client.token}"}, allow_redirects=False
    ) as resp:
        if resp.status != 200:
            raise RetroError(f"Downloading file {file_id} failed with HTTP {resp.status}.")
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise RetroError(f"File {file_id} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB.")
            digest.update(chunk)
    meta = {"id": file_id, "name": info.get("name"), "mimetype": info.get("mimetype"), "size": size}
    return digest.hexdigest(), meta
