"""Shared plumbing for Web API method handlers: parameters, channel access, pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .state import JSON, Channel, SlackError, User
from .workspace import Workspace

T = TypeVar("T")


class Params:
    """Merged query + body parameters of one API call, with Slack-style coercions."""

    def __init__(self, data: JSON) -> None:
        self.data = data

    def get(self, name: str) -> Any:
        """Raw value or None."""
        return self.data.get(name)

    def text(self, name: str) -> str | None:
        """Value as a string (None if absent)."""
        value = self.data.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    def require(self, name: str, error: str = "invalid_arguments") -> str:
        """Non-empty string value, else the given error."""
        value = self.text(name)
        if not value:
            raise SlackError(error)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """Boolean value; form posts send "1"/"true"."""
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def integer(self, name: str, default: int) -> int:
        """Integer value, else the default."""
        value = self.data.get(name)
        try:
            return int(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def structured(self, name: str, error: str = "invalid_arguments") -> Any:
        """JSON value that may arrive either parsed (JSON body) or as a string (form/query)."""
        value = self.data.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise SlackError(error) from None
        return value

    def csv(self, name: str) -> list[str]:
        """Comma separated list (or a JSON list)."""
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]


@dataclass
class ApiContext:
    """What a handler needs: the workspace and emulator settings."""

    ws: Workspace
    trigger_ttl: float
    scopes: frozenset[str] = frozenset()  # the scopes the caller's token was granted

    @property
    def bot(self) -> User:
        """The calling bot user."""
        return self.ws.bot_user

    def require_scopes(self, needed: Iterable[str]) -> None:
        """Refuse with `missing_scope` (naming what is needed and what the token has) unless it holds them all."""
        # https://docs.slack.dev/reference/methods (each method's "Required scopes"); the error carries
        # `needed` and `provided` as comma-separated scope lists.
        missing = [s for s in dict.fromkeys(needed) if s not in self.scopes]
        if missing:
            raise SlackError("missing_scope", needed=",".join(missing), provided=",".join(sorted(self.scopes)))

    def require_any_scope(self, accepted: Iterable[str]) -> None:
        """Refuse with `missing_scope` naming every accepted scope unless the token holds at least one of them."""
        options = list(dict.fromkeys(accepted))
        if options and not any(s in self.scopes for s in options):
            raise SlackError("missing_scope", needed=",".join(options), provided=",".join(sorted(self.scopes)))

    def visible_channel(self, ref: str | None) -> Channel:
        """A channel the bot can see: private ones only when it is a member."""
        # The Web API takes ids only (chat.postMessage resolves names before calling this).
        ch = self.ws.channels.get(ref or "")
        if ch is None:
            raise SlackError("channel_not_found")
        if (ch.is_private or ch.is_im or ch.is_mpim) and self.ws.bot_user_id not in ch.members:
            raise SlackError("channel_not_found")
        return ch

    def user(self, ref: str | None) -> User:
        """A user by id only, as the Web API expects."""
        user = self.ws.users.get(ref or "")
        if user is None:
            raise SlackError("user_not_found")
        return user

    def member_channel(self, ref: str | None) -> Channel:
        """A channel the bot is a member of, else `not_in_channel`."""
        ch = self.visible_channel(ref)
        if self.ws.bot_user_id not in ch.members:
            raise SlackError("not_in_channel")
        return ch

    def writable_channel(self, ref: str | None) -> Channel:
        """A live channel the bot can post into."""
        ch = self.visible_channel(ref)
        if ch.is_archived:
            raise SlackError("is_archived")
        if self.ws.bot_user_id not in ch.members:
            raise SlackError("not_in_channel")
        return ch


Handler = Callable[[ApiContext, Params], JSON]


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for Slack timestamps (exact, unlike float())."""
    sec, _, frac = ts.partition(".")
    try:
        return int(sec or 0), int((frac or "0").ljust(6, "0")[:6])
    except ValueError:
        raise SlackError("invalid_ts_latest") from None


def paginate(items: Sequence[T], p: Params, *, default_limit: int = 100) -> tuple[list[T], str]:
    """Cut a page out of items by `limit`/`cursor`; returns (page, next_cursor)."""
    limit = p.integer("limit", default_limit)
    limit = default_limit if limit <= 0 else min(limit, 1000)
    offset = 0
    cursor = p.text("cursor")
    if cursor:
        try:
            offset = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
        except (ValueError, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
    page = list(items[offset:offset + limit])
    end = offset + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
