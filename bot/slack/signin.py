"""Sign in with Slack (OpenID Connect): the code exchanged for tokens, the person's claims, checked.

Retro exchanges the code itself, over TLS, with the client secret (openid.connect.token), so the ID token comes
straight from Slack: its claims are checked (audience, issuer, nonce, expiry) rather than its signature, as OpenID
Connect Core 1.0 §3.1.3.7 allows for the code flow. Who the person is then comes from openid.connect.userInfo.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

ISSUER = "https://slack.com"
SCOPE = "openid profile"
TEAM_CLAIM = "https://slack.com/team_id"
USER_CLAIM = "https://slack.com/user_id"


class SignInError(Exception):
    """Slack did not vouch for the person (a refused code, a token for someone else, a stale sign-in)."""


@dataclass(frozen=True)
class Person:
    """Who signed in: Slack user and workspace, and how to greet them."""

    user_id: str
    team_id: str
    name: str


def slack_base(api_url: str) -> str:
    """Slack's web address from its Web API address (`https://slack.com/api/` → `https://slack.com/`)."""
    base = api_url.rstrip("/")
    return (base[: -len("/api")] if base.endswith("/api") else base) + "/"


def authorize_url(api_url: str, *, client_id: str, redirect_uri: str, state: str, nonce: str,
                  login_hint: str | None = None) -> str:
    """Where a browser is sent to sign in with Slack."""
    query = {"response_type": "code", "scope": SCOPE, "client_id": client_id, "state": state, "nonce": nonce,
             "redirect_uri": redirect_uri, **({"login_hint": login_hint} if login_hint else {})}
    return f"{slack_base(api_url)}openid/connect/authorize?{urlencode(query)}"


def _claims(id_token: str) -> dict[str, object]:
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise SignInError("Slack's ID token could not be read.") from None
    if not isinstance(claims, dict):
        raise SignInError("Slack's ID token could not be read.")
    return claims


def check_claims(claims: dict[str, object], *, client_id: str, nonce: str, now: datetime) -> None:
    """The ID token is for this app, from Slack, for this sign-in, and not expired."""
    exp = claims.get("exp")
    if claims.get("aud") != client_id or claims.get("iss") != ISSUER:
        raise SignInError("Slack's ID token was made for another app.")
    if claims.get("nonce") != nonce:
        raise SignInError("Slack's ID token belongs to another sign-in.")
    if not isinstance(exp, int | float) or exp <= now.timestamp():
        raise SignInError("Slack's ID token has expired; sign in again.")


async def exchange(api_url: str, *, client_id: str, client_secret: str, code: str, redirect_uri: str, nonce: str,
                   now: datetime, timeout: float = 15.0) -> Person:
    """The code exchanged for tokens (openid.connect.token), the ID token's claims checked, the person asked of
    openid.connect.userInfo with the access token; the two must name the same user and workspace."""
    client = AsyncWebClient(base_url=api_url, timeout=int(timeout))
    try:
        tokens = await client.openid_connect_token(client_id=client_id, client_secret=client_secret, code=code,
                                                   redirect_uri=redirect_uri, grant_type="authorization_code")
        claims = _claims(str(tokens.get("id_token") or ""))
        check_claims(claims, client_id=client_id, nonce=nonce, now=now)
        info = await AsyncWebClient(token=str(tokens["access_token"]), base_url=api_url,
                                    timeout=int(timeout)).openid_connect_userInfo()
    except SlackApiError as exc:
        raise SignInError(f"Slack refused the sign-in ({exc.response.get('error')}).") from None
    except (TimeoutError, aiohttp.ClientError, KeyError) as exc:
        raise SignInError(f"Slack could not be asked who signed in ({type(exc).__name__}); sign in again.") from None
    user, team = info.get(USER_CLAIM) or info.get("sub"), info.get(TEAM_CLAIM)
    if not user or not team or user != (claims.get(USER_CLAIM) or claims.get("sub")) or team != claims.get(TEAM_CLAIM):
        raise SignInError("Slack's answers about who signed in do not agree.")
    return Person(str(user), str(team), str(info.get("name") or info.get("given_name") or user))
