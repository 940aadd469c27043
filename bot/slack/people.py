"""People, asked of Slack: channel membership (who may see a private incident) and display names."""

from __future__ import annotations

import asyncio

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

NAME_LOOKUPS = 8


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


async def display_names(client: AsyncWebClient, uids: list[str]) -> dict[str, str]:
    """Slack display names for user ids (best effort: a failed lookup leaves the id as it is)."""
    limit = asyncio.Semaphore(NAME_LOOKUPS)

    async def one(uid: str) -> tuple[str, str | None]:
        async with limit:
            try:
                user = (await client.users_info(user=uid))["user"]
            except SlackApiError:
                return uid, None
        profile = user.get("profile") or {}
        return uid, profile.get("display_name") or user.get("name") or profile.get("real_name") or None

    found = await asyncio.gather(*(one(uid) for uid in uids))
    return {uid: name for uid, name in found if name}
