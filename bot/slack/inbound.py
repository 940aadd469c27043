"""Requests from Slack, checked before Bolt sees them: the signature over the raw bytes first, then the body's shape.

Bolt parses a body before it verifies its signature, and its error handler answers from whatever it parsed; so a
forged or malformed request must stop here: 401 for a bad signature (nothing parsed, nothing answered, nothing
stored), 400 for a signed body that is not what Slack sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

from bot.config import DEFAULT_PORTS, Origin

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
SLACK_HOOKS = "hooks.slack.com"
MAX_AGE_SECONDS = 60 * 5  # Slack's replay window


class Refused(Exception):
    """Why a request is refused, and the status it gets."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def verify(secret: str, body: bytes, timestamp: str | None, signature: str | None) -> None:
    """The `v0` HMAC-SHA256 signature over `v0:{timestamp}:{body}`, within 5 minutes; `Refused(401)` otherwise."""
    if not secret:
        raise Refused(401, "no signing secret configured")  # never verify against an empty key
    if not timestamp or not signature:
        raise Refused(401, "unsigned")
    try:
        stale = abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS
    except ValueError:
        stale = True
    # Over the raw bytes: a body that is not UTF-8 is still checked (and then refused as malformed).
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode(errors="replace") + b":" + body, hashlib.sha256)
    if stale or not hmac.compare_digest(b"v0=" + mac.hexdigest().encode(), signature.encode(errors="replace")):
        raise Refused(401, "bad or stale signature")


def check_shape(body: bytes, content_type: str) -> None:
    """A signed body must be what Slack sends: a JSON object (Events API), or a form whose `payload`, when present,
    is a JSON object (interactivity); anything else is `Refused(400)`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    kind = content_type.split(";")[0].strip().lower()
    if kind == JSON_TYPE:
        _json_object(text, "body")
        return
    if kind != FORM:
        raise Refused(400, f"unexpected content type {kind or 'none'}")
    try:
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=1000)
    except ValueError:
        raise Refused(400, "malformed form body") from None
    if "payload" in fields:
        if len(fields["payload"]) != 1:
            raise Refused(400, "more than one payload")
        _json_object(fields["payload"][0], "payload")


def _json_object(text: str, what: str) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")


def reply_url_allowed(url: str, api_url: str, extra: frozenset[Origin] = frozenset()) -> bool:
    """Whether the bot may answer through this response_url: https to Slack's hooks host (GovSlack's, when
    SLACK_API_URL points at it), the very scheme, host and port of a non-default SLACK_API_URL (a local Slack), or
    one of the `extra` origins (RETRO_REPLY_HOSTS)."""
    try:
        parts, api = urlsplit(url), urlsplit(api_url)
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if extra and (parts.scheme, host, port or DEFAULT_PORTS.get(parts.scheme, -1)) in extra:
        return True
    api_host = (api.hostname or "").lower()
    custom = api_host not in ("slack.com", "www.slack.com")
    if custom and (parts.scheme, parts.netloc.lower()) == (api.scheme, api.netloc.lower()):
        return True
    hooks = {SLACK_HOOKS} | ({"hooks." + api_host.removeprefix("www.").removeprefix("api.")} if custom else set())
    return parts.scheme == "https" and port in (None, 443) and (parts.hostname or "").lower() in hooks
