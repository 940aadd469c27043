"""Signed requests as Slack sends them, for tests that talk raw HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time


def signed_headers(secret: str, body: str | bytes, *, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    """Headers with a valid `v0` signature over `v0:{timestamp}:{body}` (text is signed as its UTF-8 bytes)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}
