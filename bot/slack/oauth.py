"""Multi-workspace install (Bolt's OAuth flow) with slack_sdk's stores on Retro's own database; uninstalls."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col, select

from bot.config import Settings
from bot.deps import Deps
from bot.errors import ConfigError
from bot.followup import reminders
from bot.slack.installs import REFRESH_BEFORE_MINUTES, RetroInstallationStore, TokenRefresher
from storage.models import Workspace
from storage.oauth_tables import OAUTH_STATES
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


def oauth_settings(settings: Settings, deps: Deps, client: AsyncWebClient) -> AsyncOAuthSettings:
    """OAuth settings for /slack/install and /slack/oauth_redirect, refreshing rotating tokens (an app whose manifest
    sets token_rotation_enabled) before each request that needs one."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    redact_client_logs()
    authorize = settings.slack_api_url.replace("/api/", "/oauth/v2/authorize")
    secret = settings.slack_client_secret.get_secret_value()
    store = RetroInstallationStore(settings.slack_client_id, deps, token_cipher(settings))
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret,
        scopes=manifest_scopes(),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(STATE_TTL_SECONDS, deps.engine, table_name=OAUTH_STATES),
        authorization_url=authorize,
        token_rotation_expiration_minutes=REFRESH_BEFORE_MINUTES,
    )
    # Bolt's authorize refreshes a rotating token through its own rotator, whose client calls slack.com whatever
    # SLACK_API_URL says and which reads the wall clock (slack_bolt oauth/async_oauth_settings.py builds it with no
    # client; slack_sdk oauth/token_rotation/async_rotator.py). Retro's rotator takes its place: the same hook, on
    # Retro's client and clock, shared with background sends so a refresh token is never spent twice.
    store.refresher = TokenRefresher(client_id=settings.slack_client_id, client_secret=secret, client=client,
                                     store=store)
    if isinstance(oauth.authorize, AsyncInstallationStoreAuthorize):
        oauth.authorize.token_rotator = store.refresher
    return oauth


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


async def forget_organization(deps: Deps, *, enterprise_id: str, store: RetroInstallationStore | None) -> list[str]:
    """An org-wide install was removed: drop its tokens, and forget every workspace of the organization it served
    (those with an install of their own keep theirs); returns the workspaces forgotten."""
    if store is not None:
        await store.async_delete_installation(enterprise_id=enterprise_id, team_id=None)
        await store.async_delete_bot(enterprise_id=enterprise_id, team_id=None)
        store.org_teams = {pair for pair in store.org_teams if pair[0] != enterprise_id}
    async with deps.session() as session:
        rows = await session.exec(select(Workspace.team_id).where(Workspace.enterprise_id == enterprise_id,
                                                                  col(Workspace.uninstalled_at).is_(None)))
        teams = list(rows.all())
    served = [t for t in teams if store is None or await store.async_find_bot(enterprise_id=enterprise_id,
                                                                              team_id=t) is None]
    for team_id in served:
        await forget_workspace(deps, team_id=team_id, enterprise_id=enterprise_id, store=None)
    return served


