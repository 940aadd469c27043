"""The emulator's workspaces, its Enterprise Grid organizations, and the bot tokens that act in them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .orgwide import Org, add_to, org_home, remove_all, route
from .state import JSON, Clock, Delivery, SlackError
from .workspace import SEED_HUMANS, Workspace, base36

# With token rotation on, an access token lives 12 hours: oauth.v2.access answers `expires_in` 43200
# (https://docs.slack.dev/authentication/using-token-rotation, "it expires every 12 hours").
ACCESS_TOKEN_TTL = 43200


@dataclass
class BotToken:
    """A bot token issued to the app: for one workspace, or (an org-wide install) for a whole Grid organization."""

    token: str
    team_id: str | None  # None for an org-wide token
    bot_user_id: str
    scopes: list[str] = field(default_factory=list)
    installer: str | None = None
    revoked: bool = False
    enterprise_id: str | None = None  # the organization of an org-wide token
    expires_at: float | None = None  # on the emulator's clock; None: never (token rotation off)
    refresh_token: str | None = None  # issued with it when token rotation is on


@dataclass
class RefreshToken:
    """A refresh token and the access token it was issued with (what exchanging it renews)."""

    token: str
    grant: BotToken
    spent: bool = False


class Tenancy:
    """Every workspace of one emulator, keyed by team id, every org-wide install, and every bot token."""

    def __init__(self, *, app_id: str, on_add: Callable[[Workspace], None], clock: Clock = time.monotonic,
                 seed_scopes: Iterable[str] = ()) -> None:
        self.app_id = app_id
        self.seed_scopes = list(seed_scopes)  # what a token installed without OAuth holds
        self.clock = clock
        self.workspaces: dict[str, Workspace] = {}
        self.orgs: dict[str, Org] = {}  # org-wide installs, by enterprise id
        self.tokens: dict[str, BotToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self._on_add = on_add

    def add(self, team_id: str, *, name: str, domain: str, humans: Iterable[str] = SEED_HUMANS,
            installed: bool = True, token: str | None = None, enterprise: tuple[str, str] | None = None,
            scopes: Iterable[str] | None = None) -> Workspace:
        """Create a workspace (in an Enterprise Grid org when `enterprise` is its (id, name)); when installed, the
        app's bot is in it with a bot token holding `scopes` (by default the seeded ones)."""
        if team_id in self.workspaces:
            raise ValueError(f"workspace {team_id} already exists")
        if any(ws.domain == domain for ws in self.workspaces.values()):
            raise ValueError(f"domain {domain!r} is taken")
        ws = Workspace(team_id=team_id, domain=domain, team_name=name, app_id=self.app_id,
                       tag=base36(len(self.workspaces)), humans=humans, with_bot=installed, clock=self.clock)
        if enterprise is not None:
            ws.enterprise_id, ws.enterprise_name = enterprise
        self.workspaces[team_id] = ws
        if installed:
            self.grant(ws, token=token, scopes=self.seed_scopes if scopes is None else scopes)
        self._on_add(ws)
        return ws

    def get(self, team_id: str) -> Workspace:
        """A workspace by team id; raise `team_not_found` otherwise."""
        ws = self.workspaces.get(team_id)
        if ws is None:
            raise SlackError("team_not_found")
        return ws

    def enterprises(self) -> dict[str, str]:
        """The Grid organizations some workspace belongs to: enterprise id -> name."""
        return {ws.enterprise_id: ws.enterprise_name or ws.enterprise_id
                for ws in self.workspaces.values() if ws.enterprise_id is not None}

    def _issue(self, *, team_id: str | None, enterprise_id: str | None, bot_user_id: str, scopes: Iterable[str],
               installer: str | None, expiring: bool, token: str | None = None) -> BotToken:
        if expiring:
            # Rotating tokens: `xoxe.xoxb-1-…` with a `xoxe-1-…` refresh token (same page, "exchange").
            token = f"xoxe.xoxb-1-{secrets.token_hex(24)}"
        token = token or f"xoxb-{team_id or enterprise_id}-{secrets.token_hex(12)}"
        if token in self.tokens:
            raise ValueError("token already issued")
        grant = BotToken(token, team_id, bot_user_id, list(scopes), installer, enterprise_id=enterprise_id)
        if expiring:
            grant.expires_at = self.clock() + ACCESS_TOKEN_TTL
            grant.refresh_token = f"xoxe-1-{secrets.token_hex(32)}"
            self.refresh_tokens[grant.refresh_token] = RefreshToken(grant.refresh_token, grant)
        self.tokens[token] = grant
        return grant

    def grant(self, ws: Workspace, *, token: str | None = None, scopes: Iterable[str] = (),
              installer: str | None = None, expiring: bool = False) -> BotToken:
        """Install the app into a workspace and issue it a new bot token there (expiring with token rotation)."""
        if ws.org_install:
            raise ValueError(f"{ws.team_id} is served by its organization's org-wide install")
        bot = ws.install_bot()
        return self._issue(team_id=ws.team_id, enterprise_id=None, bot_user_id=bot.id, scopes=scopes,
                           installer=installer, expiring=expiring, token=token)

    def grant_org(self, enterprise_id: str, *, scopes: Iterable[str] = (), installer: str | None = None,
                  expiring: bool = False) -> BotToken:
        """Install the app org-wide into a Grid organization: one token for the org, in no workspace yet."""
        name = self.enterprises().get(enterprise_id)
        if name is None:
            raise SlackError("team_not_found")
        org = self.orgs.get(enterprise_id)
        if org is None:
            home = org_home(enterprise_id, name, app_id=self.app_id, tag=f"ORG{base36(len(self.orgs))}",
                            clock=self.clock)
            org = self.orgs[enterprise_id] = Org(enterprise_id, name, home)
            self._on_add(home)
        bot = org.home.install_bot()
        return self._issue(team_id=None, enterprise_id=enterprise_id, bot_user_id=bot.id, scopes=scopes,
                           installer=installer, expiring=expiring)

    def add_org_to(self, enterprise_id: str, team_ids: Iterable[str]) -> list[Workspace]:
        """An org admin adds the org-wide app to workspaces of the organization."""
        org = self.orgs.get(enterprise_id)
        if org is None or not org.home.installed:
            raise ValueError(f"the app is not installed org-wide in {enterprise_id}")
        added = [self.get(team_id) for team_id in team_ids]
        for ws in added:
            add_to(org, ws)
        return added

    def uninstall_org(self, enterprise_id: str, publish: Callable[[JSON, Workspace], Delivery]) -> list[Delivery]:
        """Remove an org-wide install: revoke its tokens, tell the app (`publish`), take its bot out of every
        workspace it was added to."""
        org = self.orgs.get(enterprise_id)
        if org is None or not org.home.installed:
            raise ValueError(f"the app is not installed org-wide in {enterprise_id}")
        bots = sorted({grant.bot_user_id for grant in self.revoke_org(enterprise_id)})
        # Org-level events carry a null team_id and the org's enterprise_id (https://api.slack.com/events/
        # team_access_revoked, whose payload shows both); sent while the install still counts, then it is gone.
        sent = [publish({"type": "app_uninstalled"}, org.home),
                publish({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": bots}}, org.home)]
        remove_all(org)
        return sent

    def refresh(self, refresh_token: str) -> BotToken:
        """Exchange a refresh token for a new access token and refresh token; the one given is spent."""
        # "The refresh token is then revoked, and a new refresh token is used to exchange the new expiring access
        # token when it expires" (https://docs.slack.dev/authentication/using-token-rotation, Overview): single use.
        found = self.refresh_tokens.get(refresh_token)
        if found is None or found.spent or found.grant.revoked:
            raise SlackError("invalid_refresh_token")
        found.spent = True
        old = found.grant
        return self._issue(team_id=old.team_id, enterprise_id=old.enterprise_id, bot_user_id=old.bot_user_id,
                           scopes=old.scopes, installer=old.installer, expiring=True)

    def _live(self, token: str) -> BotToken:
        grant = self.tokens.get(token)
        if grant is None:
            raise SlackError("invalid_auth")
        if grant.revoked:
            raise SlackError("token_revoked")
        if grant.expires_at is not None and self.clock() >= grant.expires_at:
            raise SlackError("token_expired")  # https://docs.slack.dev/authentication/using-token-rotation
        return grant

    def resolve(self, token: str, method: str = "auth.test", params: JSON | None = None) -> Workspace:
        """The workspace a call acts in: its token's (an org-wide token's: the one the call names); `invalid_auth`
        for unknown tokens, `token_revoked` for revoked ones, `token_expired` past a rotating token's expiry."""
        grant = self._live(token)
        if grant.team_id is None:
            return route(self.orgs[grant.enterprise_id or ""], method, params or {})
        return self.workspaces[grant.team_id]

    def acts_in(self, token: str, team_id: str) -> bool:
        """Whether a live bot token acts in this workspace (its own, or one its org-wide install was added to)."""
        try:
            grant = self._live(token)
        except SlackError:
            return False
        if grant.team_id is None:
            return team_id in self.orgs[grant.enterprise_id or ""].teams
        return grant.team_id == team_id

    def live_tokens(self, team_id: str) -> list[BotToken]:
        """Unrevoked, unexpired bot tokens of a workspace (its org-wide install's when it has none of its own)."""
        mine = [g for g in self.tokens.values() if g.team_id == team_id and self._usable(g)]
        ws = self.workspaces.get(team_id)
        if mine or ws is None or not ws.org_install or ws.enterprise_id is None:
            return mine
        return self.org_tokens(ws.enterprise_id)

    def org_tokens(self, enterprise_id: str) -> list[BotToken]:
        """Unrevoked, unexpired org-wide tokens of an organization."""
        return [g for g in self.tokens.values()
                if g.team_id is None and g.enterprise_id == enterprise_id and self._usable(g)]

    def _usable(self, grant: BotToken) -> bool:
        return not grant.revoked and (grant.expires_at is None or self.clock() < grant.expires_at)

    def revoke(self, team_id: str) -> list[BotToken]:
        """Revoke every bot token of a workspace (expired ones too: their refresh tokens die with them)."""
        return self._revoke([g for g in self.tokens.values() if g.team_id == team_id and not g.revoked])

    def revoke_org(self, enterprise_id: str) -> list[BotToken]:
        """Revoke every org-wide token of an organization."""
        return self._revoke([g for g in self.tokens.values()
                             if g.team_id is None and g.enterprise_id == enterprise_id and not g.revoked])

    @staticmethod
    def _revoke(grants: list[BotToken]) -> list[BotToken]:
        for grant in grants:
            grant.revoked = True
        return grants

    def file_owner(self, file_id: str) -> Workspace | None:
        """The workspace (or organization, for a file uploaded with an org token) holding a file id, if any."""
        places = [*self.workspaces.values(), *(org.home for org in self.orgs.values())]
        return next((ws for ws in places if file_id in ws.files), None)
