"""OAuth v2: the authorize ("Allow") page, one-time codes and oauth.v2.access."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from . import oauth_pages
from .api_common import Params
from .state import JSON, Clock, SlackError, User
from .tenancy import BotToken, Tenancy

AUTHORIZE_PATH = "/oauth/v2/authorize"
CODE_TTL_SECONDS = 600
ORG_INSTALLERS = ("primary_owner", "owner", "admin")


@dataclass
class OAuthClient:
    """The app's OAuth credentials and the redirect URLs configured for it."""

    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class AuthCode:
    """A one-time `code` handed to the app's redirect URL."""

    code: str
    client_id: str
    team_id: str
    user_id: str
    scopes: list[str]
    user_scopes: list[str]
    redirect_uri: str
    explicit_redirect: bool
    issued: float
    used: bool = False
    enterprise_id: str | None = None  # set for an org-wide install (then team_id is "")


class OneTimeCode(Protocol):
    """What redeeming a code reads of it (OAuth's and Sign in with Slack's codes alike)."""

    client_id: str
    redirect_uri: str
    explicit_redirect: bool
    issued: float
    used: bool


CodeT = TypeVar("CodeT", bound=OneTimeCode)


def redeem(codes: Mapping[str, CodeT], p: Params, client_id: str, now: float) -> CodeT:
    """The code a token request names, used up: one time, within CODE_TTL_SECONDS, for this app, and with the
    redirect_uri the authorize request gave (required then, and the same URL)."""
    code = codes.get(p.text("code") or "")
    expired = code is not None and now - code.issued > CODE_TTL_SECONDS
    if code is None or code.used or expired or code.client_id != client_id:
        raise SlackError("invalid_code")
    redirect = p.text("redirect_uri")
    if (redirect or code.explicit_redirect) and redirect != code.redirect_uri:
        raise SlackError("bad_redirect_uri")
    code.used = True
    return code


def _scopes(raw: str | None) -> list[str]:
    return [s.strip() for s in (raw or "").replace(" ", ",").split(",") if s.strip()]


def with_query(url: str, params: Mapping[str, str]) -> str:
    """`url` with extra query parameters appended."""
    return url + ("&" if "?" in url else "?") + urlencode(params)


class OAuthServer:
    """Slack's side of the OAuth v2 install flow for the one emulated app."""

    def __init__(self, tenancy: Tenancy, *, clock: Clock = time.monotonic, org_deploy_enabled: bool = False,
                 token_rotation_enabled: bool = False) -> None:
        self.tenancy = tenancy
        self.clock = clock
        self.client: OAuthClient | None = None
        self.codes: dict[str, AuthCode] = {}
        # The app's settings as its manifest names them (settings.org_deploy_enabled, token_rotation_enabled).
        self.org_deploy_enabled = org_deploy_enabled
        self.token_rotation_enabled = token_rotation_enabled

    def configure(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        """Set the credentials oauth.v2.access accepts and the app's configured redirect URLs."""
        self.client = OAuthClient(client_id, client_secret, redirect_uris)

    def register(self, app: web.Application) -> None:
        """Add the authorize routes to an application."""
        app.router.add_get(AUTHORIZE_PATH, self.page)
        app.router.add_post(AUTHORIZE_PATH, self.allow)

    def _redirect_for(self, query: Mapping[str, str]) -> str:
        client = self.client
        if client is None or query.get("client_id") != client.client_id:
            raise SlackError("invalid_client_id")
        asked = query.get("redirect_uri")
        if not asked:
            if not client.redirect_uris:
                raise SlackError("bad_redirect_uri")
            return client.redirect_uris[0]
        # A redirect_uri must match a configured redirect URL or sit below it.
        if client.redirect_uris and not any(asked == u or asked.startswith(u.rstrip("/") + "/")
                                            for u in client.redirect_uris):
            raise SlackError("bad_redirect_uri")
        return asked

    def check(self, query: Mapping[str, str]) -> str:
        """Validate an authorize request; returns where the user will be sent back to."""
        redirect = self._redirect_for(query)
        if not _scopes(query.get("scope")) and not _scopes(query.get("user_scope")):
            raise SlackError("invalid_scope")
        return redirect

    def _org_installer(self, enterprise_id: str, user: str) -> User:
        # Only an org admin or owner installs an app for the whole organization, and only an app whose manifest
        # sets org_deploy_enabled (https://api.slack-gov.com/enterprise/org-wide-apps). Slack's page offers neither
        # case a choice, so the two refusals below are the sandbox's own words.
        if not self.org_deploy_enabled:
            raise SlackError("org_deploy_not_enabled")
        for ws in self.tenancy.workspaces.values():
            if ws.enterprise_id == enterprise_id:
                found = next((u for u in ws.users.values() if user in (u.id, u.name) and not u.is_bot), None)
                if found is not None and not found.deleted:
                    if found.role not in ORG_INSTALLERS:
                        raise SlackError("not_authorized")
                    return found
        raise SlackError("user_not_found")

    def authorize(self, query: Mapping[str, str], *, team_id: str, user: str, allow: bool = True) -> str:
        """The user's decision on the Allow page: returns the redirect URL carrying `code` (or `error`).

        `team_id` is a workspace, or an enterprise id for an org-wide install."""
        redirect = self.check(query)
        org = team_id if team_id in self.tenancy.enterprises() else None
        if org is not None:
            installer = self._org_installer(org, user)
        else:
            installer = self.tenancy.get(team_id).user(user)
            if installer.is_bot or installer.deleted:
                raise SlackError("user_not_found")
        state = {"state": query["state"]} if "state" in query else {}
        if not allow:
            return with_query(redirect, {"error": "access_denied", **state})
        code = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(32)}"
        assert self.client is not None
        self.codes[code] = AuthCode(code, self.client.client_id, "" if org else team_id, installer.id,
                                    _scopes(query.get("scope")), _scopes(query.get("user_scope")), redirect,
                                    bool(query.get("redirect_uri")), self.clock(), enterprise_id=org)
        return with_query(redirect, {"code": code, **state})

    async def page(self, request: web.Request) -> web.Response:
        """GET: the consent page an installing user sees."""
        query = dict(request.query)
        try:
            self.check(query)
        except SlackError as err:
            return oauth_pages.error_page(err.error)
        teams = [(ws.team_id, ws.team_name) for ws in self.tenancy.workspaces.values()]
        if self.org_deploy_enabled:  # an org-ready app can be installed for a whole organization
            teams += [(eid, f"{name}, every workspace") for eid, name in self.tenancy.enterprises().items()]
        return oauth_pages.allow_page(query, teams, _scopes(query.get("scope")))

    async def allow(self, request: web.Request) -> web.Response:
        """POST: the Allow (or Cancel) button; redirects to the app like Slack does."""
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        query = {k: v for k, v in form.items() if k not in ("team", "user", "decision")}
        try:
            url = self.authorize(query, team_id=form.get("team", ""), user=form.get("user", ""),
                                 allow=form.get("decision", "allow") == "allow")
        except SlackError as err:
            return oauth_pages.error_page(err.error)
        raise web.HTTPFound(url)

    def authenticate(self, p: Params, authorization: str) -> OAuthClient:
        """The app, from its client id and secret: HTTP Basic auth (what slack_sdk sends) or form arguments (what
        the method pages list); a wrong id or secret is refused as Slack does."""
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization.removeprefix("Basic ").strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise SlackError("invalid_client_id") from None
            client_id, _, secret = decoded.partition(":")
        else:
            client_id, secret = p.text("client_id") or "", p.text("client_secret") or ""
        client = self.client
        if client is None or client_id != client.client_id:
            raise SlackError("invalid_client_id")
        if not secrets.compare_digest(secret, client.client_secret):
            raise SlackError("bad_client_secret")
        return client

    def access(self, p: Params, authorization: str) -> JSON:
        """oauth.v2.access: exchange a code for a bot token (credentials via Basic auth or the form)."""
        client_id = self.authenticate(p, authorization).client_id
        grant_type = p.text("grant_type")
        if grant_type == "refresh_token":
            # Token rotation: a refresh token for a new pair (https://docs.slack.dev/authentication/using-token-rotation)
            return self._answer(self.tenancy.refresh(p.text("refresh_token") or ""))
        if grant_type not in (None, "", "authorization_code"):
            raise SlackError("invalid_grant_type")
        code = redeem(self.codes, p, client_id, self.clock())
        rotating = self.token_rotation_enabled
        if code.enterprise_id is not None:
            grant = self.tenancy.grant_org(code.enterprise_id, scopes=code.scopes, installer=code.user_id,
                                           expiring=rotating)
        else:
            grant = self.tenancy.grant(self.tenancy.get(code.team_id), scopes=code.scopes, installer=code.user_id,
                                       expiring=rotating)
        return self._answer(grant)

    def _answer(self, grant: BotToken) -> JSON:
        """oauth.v2.access's answer for a bot token just issued (by a code or a refresh token)."""
        if grant.team_id is None:
            # An org-wide install: `team` is null, `enterprise` names the org, `is_enterprise_install` is true
            # (https://api.slack.com/enterprise/apps/reference, "Sample oauth.v2.access response").
            org = self.tenancy.orgs[grant.enterprise_id or ""]
            team: JSON | None = None
            enterprise: JSON | None = {"id": org.enterprise_id, "name": org.name}
        else:
            ws = self.tenancy.get(grant.team_id)
            # https://docs.slack.dev/reference/methods/oauth.v2.access: a Grid workspace's install names its
            # enterprise ({"id", "name"}), null elsewhere.
            team = {"id": ws.team_id, "name": ws.team_name}
            enterprise = None if ws.enterprise_id is None else {"id": ws.enterprise_id, "name": ws.enterprise_name}
        answer: JSON = {"app_id": self.tenancy.app_id, "authed_user": {"id": grant.installer},
                        "scope": ",".join(grant.scopes), "token_type": "bot", "access_token": grant.token,
                        "bot_user_id": grant.bot_user_id, "team": team, "enterprise": enterprise,
                        "is_enterprise_install": grant.team_id is None}
        if grant.expires_at is not None:
            answer["expires_in"] = round(grant.expires_at - self.clock())
            answer["refresh_token"] = grant.refresh_token
        return answer
