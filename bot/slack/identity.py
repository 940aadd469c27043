"""Who the bot is in a workspace (auth.test), remembered with the workspace's URL for permalinks."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import ConfigError
from storage.models import Workspace


async def learn_identity(deps: Deps, client: AsyncWebClient) -> None:
    """Ask Slack who the bot is (auth.test) and remember the workspace's URL for permalinks."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack: {exc.response.get('error')}") from None
    deps.bot_user_id = str(auth.get("user_id") or "") or None
    team_id = str(auth.get("team_id") or "")
    url = str(auth.get("url") or "")
    deps.workspace_url[team_id] = url
    async with deps.session() as session:
        row = await session.get(Workspace, team_id)
        if row is None:
            row = Workspace(team_id=team_id, installed_at=datetime.now(UTC))
        row.name, row.url, row.enterprise_id = str(auth.get("team") or ""), url, auth.get("enterprise_id")
        session.add(row)
        await session.commit()
