"""The emulator's workspaces and the bot tokens that act in them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .state import Clock, SlackError
from .workspace import SEED_HUMANS, Workspace, base36


@dataclass
class BotToken:
    """A bot token issued to the app for one workspace."""

    token: str
    team_id: str
    bot_user_id: str
    scopes: list[str] = field(default_factory=list)
    installer: str | None = None
    revoked: bool = False


class Tenancy:
    """Every workspace of one emulator, keyed by team id, and every bot token, keyed by token."""

    def __init__(self, *, app_id: str, on_add: Callable[[Workspace], None], clock: Clock = time.monotonic,
                 seed_scopes: Iterable[str] = ()) -> None:
        self.app_id = app_id
        self.seed_scopes = list(seed_scopes)  # what a token installed without OAuth holds
        self.clock = clock
        self.workspaces: dict[str, Workspace] = {}
        self.tokens: dict[str, BotToken] = {}
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

    def grant(self, ws: Workspace, *, token: str | None = None, scopes: Iterable[str] = (),
              installer: str | None = None) -> BotToken:
        """Install the app into a workspace and issue it a new bot token there."""
        bot = ws.install_bot()
        token = token or f"xoxb-{ws.team_id}-{secrets.token_hex(12)}"
        if token in self.tokens:
            raise ValueError("token already issued")
        grant = BotToken(token, ws.team_id, bot.id, list(scopes), installer)
        self.tokens[token] = grant
        return grant

    def resolve(self, token: str) -> Workspace:
        """The workspace a bot token acts in; `invalid_auth` for unknown, `token_revoked` for revoked ones."""
        grant = self.tokens.get(token)
        if grant is None:
            raise SlackError("invalid_auth")
        if grant.revoked:
            raise SlackError("token_revoked")
        return self.workspaces[grant.team_id]

    def live_tokens(self, team_id: str) -> list[BotToken]:
        """Unrevoked bot tokens of a workspace."""
        return [g for g in self.tokens.values() if g.team_id == team_id and not g.revoked]

    def revoke(self, team_id: str) -> list[BotToken]:
        """Revoke every bot token of a workspace; returns the revoked grants."""
        grants = self.live_tokens(team_id)
        for grant in grants:
            grant.revoked = True
        return grants

    def file_owner(self, file_id: str) -> Workspace | None:
        """The workspace holding a file id, if any."""
        return next((ws for ws in self.workspaces.values() if file_id in ws.files), None)
