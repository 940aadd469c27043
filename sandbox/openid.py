"""Sign in with Slack (OpenID Connect): the authorize page, one-time codes, openid.connect.token and .userInfo.

Sources: https://docs.slack.dev/authentication/sign-in-with-slack/ (the flow),
https://docs.slack.dev/reference/methods/openid.connect.token, https://docs.slack.dev/reference/methods/openid.connect.userInfo
and https://slack.com/.well-known/openid-configuration (endpoints, scopes, RS256).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from . import openid_pages
from .api_common import Params
from .jwks import SigningKey, at_hash
from .oauth import OAuthServer, redeem, with_query
from .state import JSON, Clock, SlackError, User
from .tenancy import Tenancy
from .workspace import Workspace

AUTHORIZE_PATH = "/openid/connect/authorize"
KEYS_PATH = "/openid/connect/keys"
DISCOVERY_PATH = "/.well-known/openid-configuration"
METHODS = ("openid.connect.token", "openid.connect.userInfo")
ISSUER = "https://slack.com"  # every Slack id_token's `iss` (openid.connect.token page, decoded payload)
# "scopes_supported": ["openid", "profile", "email"] (the discovery document); `openid` is required.
SCOPES = ("openid", "profile", "email")
# The decoded payload on the openid.connect.token page has exp 300 s after iat (1626874955 - 1626874655).
ID_TOKEN_TTL_SECONDS = 300
CLAIM = "https://slack.com/"  # Slack's own claims are namespaced: https://slack.com/team_id, https://slack.com/user_id


@dataclass
class SignInCode:
    """A one-time `code` handed to the relying party's redirect_uri after the person chose to continue."""

    code: str
    client_id: str
    team_id: str
    user_id: str
    scopes: list[str]
    redirect_uri: str
    explicit_redirect: bool
    nonce: str | None
    issued: float  # emulator clock
    auth_time: int  # wall clock, seconds
    used: bool = False


@dataclass
class UserToken:
    """A user token (xoxp-) issued by openid.connect.token; good for openid.connect.userInfo only."""

    token: str
    team_id: str
    user_id: str
    scopes: list[str]


def scopes_of(raw: str | None) -> list[str]:
    """The scopes of a `scope` parameter (OpenID separates them with spaces; commas are taken too)."""
    return [s for s in (raw or "").replace(",", " ").split() if s]


class OpenIdServer:
    """Slack's side of Sign in with Slack for the one emulated app, with the OAuth client's credentials."""

    def __init__(self, tenancy: Tenancy, oauth: OAuthServer, *, clock: Clock = time.monotonic,
                 wall: Clock = time.time) -> None:
        self.tenancy, self.oauth, self.clock, self.wall = tenancy, oauth, clock, wall
        self.key = SigningKey()
        self.codes: dict[str, SignInCode] = {}
        self.tokens: dict[str, UserToken] = {}

    def register(self, app: web.Application) -> None:
        """Add the authorize page, the JWKS and the discovery document to an application."""
        app.router.add_get(AUTHORIZE_PATH, self.page)
        app.router.add_post(AUTHORIZE_PATH, self.choose)
        app.router.add_get(KEYS_PATH, self.keys)
        app.router.add_get(DISCOVERY_PATH, self.discovery)

    def _redirect_for(self, query: Mapping[str, str]) -> str:
        # Sign in with Slack uses the app's OAuth client and its configured redirect URLs (sign-in-with-slack:
        # "Implementation of the Sign in with Slack follows the flow of our OAuth V2 process").
        client = self.oauth.client
        if client is None or query.get("client_id") != client.client_id:
            raise SlackError("invalid_client_id")
        asked = query.get("redirect_uri")
        if not client.redirect_uris:
            raise SlackError("bad_redirect_uri")  # strict: nowhere configured to send the person back to
        if not asked:
            return client.redirect_uris[0]
        if not any(asked == u or asked.startswith(u.rstrip("/") + "/") for u in client.redirect_uris):
            raise SlackError("bad_redirect_uri")
        return asked

    def check(self, query: Mapping[str, str]) -> tuple[str, Workspace]:
        """Validate an authorize request: (where the person goes back to, the workspace they sign in to)."""
        redirect = self._redirect_for(query)
        # "response_types_supported": ["code"] (discovery document); the error name is OAuth 2.0's (RFC 6749 4.1.2.1).
        if query.get("response_type") != "code":
            raise SlackError("unsupported_response_type")
        asked = scopes_of(query.get("scope"))
        if "openid" not in asked or any(s not in SCOPES for s in asked):
            raise SlackError("invalid_scope")
        team = query.get("team")
        ws = self.tenancy.get(team) if team else next(iter(self.tenancy.workspaces.values()))
        return redirect, ws

    @staticmethod
    def people(ws: Workspace, login_hint: str | None) -> list[User]:
        """Who can sign in (people, not bots or deactivated accounts); the one `login_hint` names comes first."""
        found = [u for u in ws.users.values() if not u.is_bot and not u.deleted]
        hinted = [u for u in found if login_hint and login_hint.removeprefix("@") in (u.id, u.name, u.email)]
        return hinted[:1] + [u for u in found if u not in hinted[:1]]

    def decide(self, query: Mapping[str, str], user_id: str) -> str:
        """The person pressed "Continue as …": the redirect URL carrying a new `code` and the `state`."""
        redirect, ws = self.check(query)
        if not any(u.id == user_id for u in self.people(ws, None)):
            raise SlackError("user_not_found")
        assert self.oauth.client is not None
        code = f"{int(self.wall())}.{secrets.randbelow(10**12)}.{secrets.token_hex(32)}"
        nonce = query.get("nonce") or None
        self.codes[code] = SignInCode(code, self.oauth.client.client_id, ws.team_id, user_id,
                                      scopes_of(query.get("scope")), redirect, bool(query.get("redirect_uri")),
                                      nonce, self.clock(), int(self.wall()))
        state = {"state": query["state"]} if "state" in query else {}
        return with_query(redirect, {"code": code, **state})

    async def page(self, request: web.Request) -> web.Response:
        """GET: the page where a person picks who signs in."""
        query = dict(request.query)
        try:
            _, ws = self.check(query)
        except SlackError as err:
            return openid_pages.error_page(err.error)
        return openid_pages.choose_page(query, ws.team_name, self.people(ws, query.get("login_hint")),
                                        query.get("login_hint"))

    async def choose(self, request: web.Request) -> web.Response:
        """POST: a "Continue as …" button; redirects to the relying party like Slack does."""
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        query = {k: v for k, v in form.items() if k != "user"}
        try:
            url = self.decide(query, form.get("user", ""))
        except SlackError as err:
            return openid_pages.error_page(err.error)
        raise web.HTTPFound(url)

    async def keys(self, request: web.Request) -> web.Response:
        """GET /openid/connect/keys: the public keys id_tokens are signed with."""
        return web.json_response(self.key.jwks())

    async def discovery(self, request: web.Request) -> web.Response:
        """GET /.well-known/openid-configuration, pointing at this emulator's endpoints."""
        base = f"{request.scheme}://{request.host}"
        return web.json_response({
            "issuer": ISSUER, "authorization_endpoint": base + AUTHORIZE_PATH,
            "token_endpoint": base + "/api/openid.connect.token",
            "userinfo_endpoint": base + "/api/openid.connect.userInfo", "jwks_uri": base + KEYS_PATH,
            "scopes_supported": list(SCOPES), "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]})

    def call(self, method: str, params: Params, authorization: str, token: str | None) -> JSON:
        """Answer one of METHODS (the Web API endpoint hands them over before looking up a bot token)."""
        if method == "openid.connect.token":
            return self.token(params, authorization)
        bearer = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else None
        return self.user_info(bearer or token or "")

    def token(self, p: Params, authorization: str) -> JSON:
        """openid.connect.token: exchange a code for a user token and a signed id_token."""
        client = self.oauth.authenticate(p, authorization)
        client_id = client.client_id
        # grant_type is "authorization_code" or "refresh_token" (method page); refresh tokens come only with token
        # rotation, which the app does not turn on, so only codes are exchanged here.
        if p.text("grant_type") not in (None, "", "authorization_code"):
            raise SlackError("invalid_grant_type")
        # "while redirect_uri is optional, it is required if your app passed it as a parameter to
        # /openid/connect/authorize" (method page); when given it must be the same URL.
        code = redeem(self.codes, p, client_id, self.clock())
        access = f"xoxp-{code.team_id}-{code.user_id}-{secrets.token_hex(16)}"
        self.tokens[access] = UserToken(access, code.team_id, code.user_id, code.scopes)
        # The answer: {"ok", "access_token": "xoxp-…", "token_type": "Bearer", "id_token": "<JWT>"} (method page).
        return {"access_token": access, "token_type": "Bearer", "id_token": self._id_token(code, access)}

    def _id_token(self, code: SignInCode, access: str) -> str:
        now = int(self.wall())
        claims: JSON = {"iss": ISSUER, "sub": code.user_id, "aud": code.client_id, "exp": now + ID_TOKEN_TTL_SECONDS,
                        "iat": now, "auth_time": code.auth_time}
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        claims["at_hash"] = at_hash(access)
        ws = self.tenancy.get(code.team_id)
        claims.update(self.profile(ws, ws.user(code.user_id), code.scopes))
        return self.key.sign(claims)

    @staticmethod
    def profile(ws: Workspace, user: User, scopes: list[str]) -> JSON:
        """The person's claims as Slack names them: email ones only with `email`, name and picture with `profile`
        (the OpenID scopes' claims, https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims)."""
        out: JSON = {CLAIM + "user_id": user.id, CLAIM + "team_id": ws.team_id}
        if "email" in scopes:
            out.update({"email": user.email or f"{user.name}@{ws.domain}.example.com", "email_verified": True,
                        "date_email_verified": 1_600_000_000})
        if "profile" in scopes:
            given, _, family = user.real_name.partition(" ")
            out.update({"name": user.real_name or user.name, "picture": f"https://avatars.{ws.domain}.example.com/"
                        f"{user.id}_512.png", "given_name": given, "family_name": family, "locale": "en-US"})
        out.update({CLAIM + "team_name": ws.team_name, CLAIM + "team_domain": ws.domain})
        return out

    def user_info(self, token: str) -> JSON:
        """openid.connect.userInfo: the signed-in person, for the user token openid.connect.token issued."""
        if not token:
            raise SlackError("not_authed")
        if token in self.tenancy.tokens or token.startswith(("xoxb-", "xoxe.xoxb-")):
            raise SlackError("not_allowed_token_type")  # a bot token: the method takes user tokens only
        found = self.tokens.get(token)
        if found is None:
            raise SlackError("invalid_auth")
        if "openid" not in found.scopes:
            raise SlackError("missing_scope", needed="openid", provided=",".join(found.scopes))
        ws = self.tenancy.get(found.team_id)
        user = ws.user(found.user_id)
        if user.deleted:
            raise SlackError("account_inactive")
        return {"sub": user.id, **self.profile(ws, user, found.scopes)}
