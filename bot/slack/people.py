"""Channel membership, asked of Slack: who may see a private incident."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient


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
