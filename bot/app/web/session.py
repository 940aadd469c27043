"""Signed session cookies for the web view: who signed in, in which workspace, until when.

The cookie holds base64url(JSON) + "." + base64url(HMAC-SHA256 of it). Nothing in it is secret (ids and a display
name); what matters is that only Retro can make one, and that it expires. A forged, altered, expired or malformed
cookie is simply no session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit

from bot.config import Settings

COOKIE = "retro_session"
STATE_COOKIE = "retro_signin"
PATH = "/web"
STATE_TTL = timedelta(minutes=10)
MAX_COOKIE = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_key(settings: Settings) -> bytes | None:
    """The HMAC key of the cookies: RETRO_WEB_SESSION_KEY, else derived from the client secret (so every replica,
    and the next start, reads the cookies of the others); None when there is neither."""
    if settings.retro_web_session_key is not None:
        given = settings.retro_web_session_key.get_secret_value().encode()
        return hashlib.sha256(b"retro web session\0" + given).digest()
    client = settings.web_client
    if client is None:
        return None
    return hmac.new(client[1].encode(), b"retro web session key", hashlib.sha256).digest()


def seal(key: bytes, purpose: str, claims: dict[str, object]) -> str:
    """A signed value for one purpose (a session, a sign-in in progress)."""
    body = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    mac = hmac.new(key, f"{purpose}\0{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unseal(key: bytes, purpose: str, value: str | None, now: datetime) -> dict[str, object] | None:
    """The claims of a signed value made for `purpose` and not expired (its `exp`, epoch seconds); else None."""
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    want = hmac.new(key, f"{purpose}\0{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), want):
            return None
        claims = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        return None
    return claims if claims["exp"] > now.timestamp() else None


@dataclass(frozen=True)
class Session:
    """A signed-in person."""

    user_id: str
    team_id: str
    name: str
    expires: datetime

    def claims(self, issued: datetime) -> dict[str, object]:
        """The cookie's content."""
        return {"u": self.user_id, "t": self.team_id, "n": self.name, "iat": int(issued.timestamp()),
                "exp": int(self.expires.timestamp())}

    @classmethod
    def of(cls, claims: dict[str, object] | None) -> Session | None:
        """The session a cookie's claims describe (None when they are not a session's)."""
        if claims is None:
            return None
        user, team, name = claims.get("u"), claims.get("t"), claims.get("n", "")
        if not (isinstance(user, str) and isinstance(team, str) and isinstance(name, str) and user and team):
            return None
        return cls(user, team, name, datetime.fromtimestamp(float(claims["exp"]), tz=UTC))  # type: ignore[arg-type]


def secure_cookies(settings: Settings) -> bool:
    """Cookies are `Secure` except when the public address is plain http on this machine (the sandbox, tests)."""
    url = settings.retro_public_url
    if url is None or not url.startswith("http://"):
        return True
    host = urlsplit(url).hostname or ""
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"
