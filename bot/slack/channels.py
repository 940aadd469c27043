"""Slack-side workflows: the Web API calls around the domain services (channel, card, posts, files)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Blocks, card_blocks, echo, roles_prompt_blocks
from bot.collectors.http import mib
from bot.deps import Deps
from bot.errors import ConflictError, RetroError
from bot.incident import incidents
from bot.incident.roles import current_roles
from bot.record import timeline
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


def require_shared_in(info: dict[str, Any], channel_id: str) -> None:
    """Refuse a file that was not shared in this channel: the bot can read files of channels the caller cannot."""
    shares = info.get("shares") or {}
    places = {*(info.get("channels") or []), *(info.get("groups") or []), *(info.get("ims") or []),
              *(shares.get("public") or {}), *(shares.get("private") or {})}
    if channel_id not in places:
        raise RetroError(f"File {info.get('id') or ''} was not shared in this channel; share it here first.")


async def read_shared_file(client: AsyncWebClient, file_id: str, *, channel_id: str, cap: int,
                           sink: Callable[[bytes], object], label: str | None = None, timeout: float = 60.0,
                           error: type[RetroError] = RetroError) -> tuple[dict[str, Any], int]:
    """Stream a Slack file shared in `channel_id` into `sink` with the bot token, refused past `cap` bytes; returns
    Slack's file info and the size read. Every failure is an `error` naming the file (or `label`)."""
    what = label or f"file {file_id}"
    try:
        info = (await client.files_info(file=file_id))["file"]
    except SlackApiError as exc:
        raise error(f"Slack could not give {what}: {exc.response.get('error')}.") from None
    require_shared_in(info, channel_id)
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise error(f"Slack gave no download address for {what}.")
    if int(info.get("size") or 0) > cap:
        raise error(f"{what} is {mib(int(info['size']))}, more than the {mib(cap)} limit.")
    size = 0
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, http.get(
                url, headers={"Authorization": f"Bearer {client.token}"}, allow_redirects=False) as resp:
            if resp.status != 200:
                raise error(f"Downloading {what} from Slack failed with HTTP {resp.status}.")
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > cap:
                    raise error(f"{what} is larger than the {mib(cap)} limit.")
                sink(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise error(f"Downloading {what} from Slack failed ({type(exc).__name__}).") from None
    return info, size


async def file_digest(client: AsyncWebClient, file_id: str, *, channel_id: str) -> tuple[str, dict[str, object]]:
    """A Slack file shared in `channel_id`: its SHA-256 and metadata (hashed as it streams, never held whole)."""
    digest = hashlib.sha256()
    info, size = await read_shared_file(client, file_id, channel_id=channel_id, cap=MAX_FILE_BYTES, sink=digest.update)
    return digest.hexdigest(), {"id": file_id, "name": info.get("name"), "mimetype": info.get("mimetype"), "size": size}
