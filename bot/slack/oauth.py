"""Multi-workspace install (Bolt's OAuth flow) with slack_sdk's stores on Retro's own database."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError
from bot.followup import reminders
from storage.models import Workspace
from storage.oauth_tables import BOTS, INSTALLATIONS, OAUTH_STATES, sealed_tables
from storage.token_cipher import TokenCipher

STATE_TTL_SECONDS = 600
# slack_sdk's Web API client traces every response body at debug level, and oauth.v2.access answers with the new
# tokens (slack_sdk web/async_internal_utils.py, `_request_with_session`): wherever its debug output is let through,
# the tokens would be in it.
CLIENT_LOGGERS = ("slack_sdk.web.async_base_client", "slack_sdk.web.base_client")
_TOKEN = re.compile(r"\b(xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9.\-]+")


def manifest_scopes() -> list[str]:
    """The bot scopes Retro needs (kept in one place: they mirror manifest.yml)."""
    return ["commands", "chat:write", "channels:manage", "channels:read", "channels:history", "channels:join",
            "groups:write",
            "groups:read", "groups:history", "im:write", "reactions:read", "pins:read", "pins:write", "files:read",
            "files:write", "users:read"]


class TokenRedaction(logging.Filter):
    """Replaces anything shaped like a Slack token in a log record with its kind and `(redacted)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it holds a token; never drop the record."""
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg, record.args = _TOKEN.sub(lambda m: f"{m.group(1)}-(redacted)", message), None
        return True


def redact_client_logs() -> None:
    """Put the token redaction on the Web API client's loggers (once)."""
    for name in CLIENT_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, TokenRedaction) for f in target.filters):
            target.addFilter(TokenRedaction())


def token_cipher(settings: Settings) -> TokenCipher:
    """The cipher that seals installation tokens at rest (multi-workspace mode cannot run without one)."""
    if settings.retro_encryption_key is None:
        raise ConfigError("RETRO_ENCRYPTION_KEY is required with SLACK_CLIENT_ID (installed workspaces' tokens are "
                          "stored encrypted with it; `retro keys new encryption` makes one)")
    return TokenCipher(settings.retro_encryption_key.get_secret_value())


class RetroInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store with every token sealed at rest, also keeping our Workspace row (name, URL,
    install/uninstall times) current."""

    def __init__(self, client_id: str, deps: Deps, cipher: TokenCipher) -> None:
        super().__init__(client_id=client_id, engine=deps.engine, bots_table_name=BOTS,
                         installations_table_name=INSTALLATIONS)
        # Every statement the store runs goes through these two attributes: the same tables, secrets sealed.
        self.bots, self.installations = sealed_tables(cipher)
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
    redact_client_logs()
    authorize = settings.slack_api_url.replace("/api/", "/oauth/v2/authorize")
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=manifest_scopes(),
        installation_store=RetroInstallationStore(settings.slack_client_id, deps, token_cipher(settings)),
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


