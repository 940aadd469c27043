"""Multi-workspace install (Bolt's OAuth flow) with slack_sdk's stores on Retro's own database."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.config import Settings
from bot.deps import Deps
from bot.followup import reminders
from storage.models import Workspace
from storage.oauth_tables import BOTS, INSTALLATIONS, OAUTH_STATES

STATE_TTL_SECONDS = 600


def manifest_scopes() -> list[str]:
    """The bot scopes Retro needs (kept in one place: they mirror manifest.yml)."""
    return ["commands", "chat:write", "channels:manage", "channels:read", "channels:history", "channels:join",
            "groups:write",
            "groups:read", "groups:history", "im:write", "reactions:read", "pins:read", "pins:write", "files:read",
            "files:write", "users:read"]


class RetroInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store, also keeping our Workspace row (name, URL, install/uninstall times) current."""

    def __init__(self, client_id: str, deps: Deps) -> None:
        super().__init__(client_id=client_id, engine=deps.engine, bots_table_name=BOTS,
                         installations_table_name=INSTALLATIONS)
        self.deps = deps

    async def async_save(self, installation: Installation) -> None:
        """Store the installation and (re)activate its workspace."""
        await super().async_save(installation)
        team_id = installation.team_id or ""
        async with self.deps.session() as session:
            row = await session.get(Workspace, team_id) or Workspace(team_id=team_id,
                                                                      installed_at=datetime.now(UTC))
            row.enterprise_id = installation.enterprise_id
            row.name = installation.team_name or row.name
            row.installed_at, row.uninstalled_at = datetime.now(UTC), None
            session.add(row)
            await session.commit()
        if installation.team_id:
            self.deps.workspace_url.pop(installation.team_id, None)


def oauth_settings(settings: Settings, deps: Deps) -> AsyncOAuthSettings:
    """OAuth settings for /slack/install and /slack/oauth_redirect."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    authorize = settings.slack_api_url.replace("/api/", "/oauth/v2/authorize")
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=manifest_scopes(),
        installation_store=RetroInstallationStore(settings.slack_client_id, deps),
        installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(STATE_TTL_SECONDS, deps.engine, table_name=OAUTH_STATES),
        authorization_url=authorize,
    )


async def forget_workspace(deps: Deps, *, team_id: str, enterprise_id: str | None,
                           store: AsyncSQLAlchemyInstallationStore | None) -> None:
    """On uninstall or revoked tokens: drop tokens, stop reminders, keep every record."""
    if store is not None:
        await store.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)
        await store.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
    async with deps.session() as session:
        await reminders.cancel_for_team(session, team_id, reason="workspace uninstalled")
        row = await session.get(Workspace, team_id)
        if row is not None:
            row.uninstalled_at = datetime.now(UTC)
            session.add(row)
        await session.commit()


