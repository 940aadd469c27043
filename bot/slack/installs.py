"""Installed bots in multi-workspace mode: slack_sdk's store sealed at rest, the bot that acts for a workspace (its
own install, else its Grid organization's org-wide one), and rotating tokens refreshed before they expire."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from storage.models import Workspace
from storage.oauth_tables import BOTS, INSTALLATIONS, sealed_tables
from storage.token_cipher import TokenCipher

log = logging.getLogger("retro.installs")
# A rotating token is refreshed once less than this is left of its 12 hours, by an incoming request (Bolt's
# token_rotation_expiration_minutes) or by a background send, whichever comes first.
REFRESH_BEFORE_MINUTES = 120


class RetroInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store with every token sealed at rest (refresh tokens too), also keeping our Workspace row
    (name, URL, install/uninstall times) current."""

    def __init__(self, client_id: str, deps: Deps, cipher: TokenCipher) -> None:
        super().__init__(client_id=client_id, engine=deps.engine, bots_table_name=BOTS,
                         installations_table_name=INSTALLATIONS)
        # Every statement the store runs goes through these two attributes: the same tables, secrets sealed.
        self.bots, self.installations = sealed_tables(cipher)
        self.deps = deps
        self.refresher: TokenRefresher | None = None  # set with the OAuth settings
        self.org_teams: set[tuple[str, str]] = set()  # (enterprise, team) of org-served workspaces with a row

    def _on_our_clock(self, expires_at: int | None) -> int | None:
        # slack_sdk dates a new token's expiry from the wall clock (Installation(bot_token_expires_in=…)); Retro
        # decides when to refresh on its own clock (the same one in production, a test's in the scenarios).
        return None if expires_at is None else int(self.deps.now().timestamp()) + expires_at - int(time.time())

    async def async_save(self, installation: Installation) -> None:
        """Store a new install (Bolt's OAuth flow saves one here; refreshed tokens go through async_save_bot) and
        (re)activate its workspace; an org-wide install's workspaces get their rows as they first call."""
        installation.bot_token_expires_at = self._on_our_clock(installation.bot_token_expires_at)
        installation.user_token_expires_at = self._on_our_clock(installation.user_token_expires_at)
        await super().async_save(installation)
        if installation.team_id is None:
            self.org_teams = {pair for pair in self.org_teams if pair[0] != installation.enterprise_id}
            return
        team_id = installation.team_id
        async with self.deps.session() as session:
            row = await session.get(Workspace, team_id) or Workspace(team_id=team_id, installed_at=datetime.now(UTC))
            row.enterprise_id = installation.enterprise_id
            row.name = installation.team_name or row.name
            row.installed_at, row.uninstalled_at = datetime.now(UTC), None
            session.add(row)
            await session.commit()
        self.deps.workspace_url.pop(team_id, None)

    async def remember_org_workspace(self, enterprise_id: str, team_id: str) -> None:
        """A workspace of an org-wide install called: keep its row, so background sends find the org's bot for it."""
        if (enterprise_id, team_id) in self.org_teams:
            return
        async with self.deps.session() as session:
            row = await session.get(Workspace, team_id)
            if row is None or row.uninstalled_at is not None or row.enterprise_id != enterprise_id:
                row = row or Workspace(team_id=team_id, installed_at=datetime.now(UTC))
                row.enterprise_id, row.uninstalled_at = enterprise_id, None
                session.add(row)
                await session.commit()
        self.org_teams.add((enterprise_id, team_id))

    async def bot_for(self, team_id: str) -> Bot | None:
        """The bot that acts in a workspace: its own install's, else its organization's org-wide install's."""
        # slack_sdk's SQL store matches `enterprise_id IS NULL` when given None: a Grid workspace's bot is only found
        # under the enterprise id its install stored.
        async with self.deps.session() as session:
            row = await session.get(Workspace, team_id)
        enterprise_id = row.enterprise_id if row else None
        bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id is not None:
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        return bot

    async def fresh(self, bot: Bot, *, refused: str | None = None) -> Bot:
        """The bot with a token that is not about to expire; `refused`: a token Slack called expired, refreshed
        whatever its stored expiry says (unless the bot already holds another one)."""
        if self.refresher is None or bot.bot_refresh_token is None or (refused and bot.bot_token != refused):
            return bot
        return await self.refresher.refreshed(bot, None if refused else REFRESH_BEFORE_MINUTES) or bot


class TokenRefresher(AsyncTokenRotator):
    """slack_sdk's token rotator on Retro's clock, through Retro's Web API URL, refreshing one installation at a time
    and saving the new pair before anyone reads the old one (Slack's refresh tokens work once)."""

    def __init__(self, *, client_id: str, client_secret: str, client: AsyncWebClient,
                 store: RetroInstallationStore) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, client=client)
        self.store = store
        self._locks: dict[tuple[str | None, str | None], asyncio.Lock] = {}

    def _expiring(self, bot: Bot, minutes: int | None) -> bool:
        if bot.bot_token_expires_at is None or bot.bot_refresh_token is None:
            return False
        return minutes is None or bot.bot_token_expires_at <= self.store.deps.now().timestamp() + minutes * 60

    async def perform_bot_token_rotation(self, *, bot: Bot,
                                         minutes_before_expiration: int = REFRESH_BEFORE_MINUTES) -> Bot | None:
        """Bolt's hook: the bot with a new token when its own expires within the minutes given, else None."""
        return await self.refreshed(bot, minutes_before_expiration)

    async def _latest(self, bot: Bot) -> Bot | None:
        return await self.store.async_find_bot(enterprise_id=bot.enterprise_id, team_id=bot.team_id,
                                               is_enterprise_install=bot.is_enterprise_install)

    async def refreshed(self, bot: Bot, minutes: int | None) -> Bot | None:
        """A refreshed copy of the bot, saved (None when its token has more than `minutes` left; None minutes:
        refresh now unless someone else just did)."""
        if not self._expiring(bot, minutes):
            return None
        async with self._locks.setdefault((bot.enterprise_id, bot.team_id), asyncio.Lock()):
            latest = await self._latest(bot) or bot
            if latest.bot_token != bot.bot_token or not self._expiring(latest, minutes):
                return latest  # refreshed while this one waited
            try:
                resp = await self.client.oauth_v2_access(client_id=self.client_id, client_secret=self.client_secret,
                                                         grant_type="refresh_token",
                                                         refresh_token=latest.bot_refresh_token)
            except SlackApiError as exc:
                # Another process may have spent the refresh token first: its new pair is in the store by now.
                again = await self._latest(bot)
                if again is not None and again.bot_refresh_token != latest.bot_refresh_token:
                    return again
                raise SlackTokenRotationError(exc) from exc
            if resp.get("token_type") != "bot":
                return None
            fresh = Bot(**latest.to_dict_for_copying())
            fresh.bot_token, fresh.bot_refresh_token = resp["access_token"], resp.get("refresh_token")
            fresh.bot_token_expires_at = int(self.store.deps.now().timestamp()) + int(resp["expires_in"])
            await self.store.async_save_bot(fresh)
            log.info("bot token refreshed", extra={"team": bot.team_id, "enterprise": bot.enterprise_id})
            return fresh


async def acting_bot(deps: Deps, team_id: str) -> bool:
    """Whether an installed bot acts in this workspace (its own install or its organization's); False with a single
    bot token, whose one workspace has its row."""
    store = deps.installation_store
    return isinstance(store, RetroInstallationStore) and await store.bot_for(team_id) is not None


async def client_for(client: AsyncWebClient, deps: Deps, team_id: str, *, refused: str | None = None) \
        -> AsyncWebClient:
    """The client for one workspace: the app's own with a bot token, else one with the bot token installed for that
    workspace (its own or its organization's), refreshed when near expiry or when it is the `refused` one; none
    fails like a revoked token."""
    store = deps.installation_store
    if client.token or not isinstance(store, RetroInstallationStore):
        return client
    bot = await store.bot_for(team_id)
    if bot is not None:
        try:
            bot = await store.fresh(bot, refused=refused)
        except SlackTokenRotationError as exc:
            log.warning("bot token of %s not refreshed: %s", team_id, exc.api_error.response.get("error"))
    token = bot.bot_token if bot is not None else None
    if not token:
        raise SlackApiError("no bot token for this workspace",  # type: ignore[no-untyped-call]
                            {"ok": False, "error": "not_authed"})
    # Every call names the workspace, as Bolt's per-request client does (slack_bolt app/async_app.py,
    # `_init_context`: team_id=req.context.team_id): an org-wide token needs team_id for conversations.create,
    # conversations.list, users.conversations and users.list; a workspace's own token ignores it.
    return AsyncWebClient(token=token, base_url=client.base_url, timeout=client.timeout, session=client.session,
                          retry_handlers=client.retry_handlers, team_id=team_id)


async def remember_org_workspace(deps: Deps, *, enterprise_id: str, team_id: str) -> None:
    """Note that an org-wide install serves this workspace (a no-op outside multi-workspace mode)."""
    store = deps.installation_store
    if isinstance(store, RetroInstallationStore):
        await store.remember_org_workspace(enterprise_id, team_id)
