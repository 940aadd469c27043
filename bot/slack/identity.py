"""Who the bot is in a workspace (auth.test), remembered with the workspace's URL for permalinks."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import ConfigError
from storage.core import conflict_insert, table_of
from storage.models import Workspace

_WORKSPACES = table_of(Workspace)


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
    known = {"name": str(auth.get("team") or ""), "url": url, "enterprise_id": auth.get("enterprise_id")}
    async with deps.session() as session:
        # One statement, not read-then-insert: replicas starting together on an empty database all learn the same
        # workspace, and the second insert must update, not fail the process's start.
        insert = conflict_insert(session.get_bind().dialect.name, _WORKSPACES)
        await session.exec(insert.values(team_id=team_id, installed_at=datetime.now(UTC), **known)
                           .on_conflict_do_update(index_elements=["team_id"], set_=known))
        await session.commit()
