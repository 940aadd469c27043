"""Plain data records for the emulated workspace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
# Seconds on a monotonic scale; every expiry (trigger ids, response_urls, OAuth codes) reads one.
Clock = Callable[[], float]


class SlackError(Exception):
    """A Slack error code, raised by Web API handlers and by driver actions."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra: JSON = extra


@dataclass
class User:
    """A workspace member (human or bot user)."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False
    bot_id: str | None = None
    email: str | None = None
    deleted: bool = False
    # Workspace role: "primary_owner", "owner", "admin", "member" (bots are members), or a guest: "guest"
    # (multi-channel, users.info `is_restricted`) or "single_channel_guest" (`is_ultra_restricted` too)
    # (https://docs.slack.dev/reference/objects/user-object).
    role: str = "member"


@dataclass
class TopicInfo:
    """A channel topic or purpose."""

    value: str = ""
    creator: str = ""
    last_set: int = 0


@dataclass
class Channel:
    """A conversation: public/private channel, IM or multi-person IM."""

    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_general: bool = False
    is_archived: bool = False
    topic: TopicInfo = field(default_factory=TopicInfo)
    purpose: TopicInfo = field(default_factory=TopicInfo)
    members: list[str] = field(default_factory=list)
    im_user: str | None = None

    @property
    def channel_type(self) -> str:
        """The `channel_type` Slack puts on message events."""
        if self.is_im:
            return "im"
        if self.is_mpim:
            return "mpim"
        return "group" if self.is_private else "channel"


@dataclass
class Message:
    """A message stored in a channel (top level or thread reply)."""

    ts: str
    channel: str
    text: str
    user: str | None
    bot_id: str | None = None
    app_id: str | None = None
    subtype: str | None = None
    thread_ts: str | None = None
    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    files: list[str] = field(default_factory=list)
    edited: JSON | None = None
    pinned_to: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    extra: JSON = field(default_factory=dict)

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (not the thread parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class FileObj:
    """An uploaded file."""

    id: str
    name: str
    title: str
    user: str
    created: int
    size: int = 0
    mimetype: str = "application/octet-stream"
    filetype: str = "binary"
    content: bytes | None = None
    alt_txt: str | None = None
    shares: dict[str, list[str]] = field(default_factory=dict)
    completed: bool = False
    # A remote file (Google Drive, an app's files.remote.add): Slack only links to it, at any host.
    external_url: str | None = None
    external_type: str = ""
    external_id: str | None = None

    @property
    def is_external(self) -> bool:
        """True for a remote file, whose bytes Slack does not host."""
        return self.external_url is not None


@dataclass
class View:
    """A modal or App Home view as Slack tracks it."""

    id: str
    user: str
    type: str
    definition: JSON
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    state_values: JSON = field(default_factory=dict)
    closed: bool = False


@dataclass
class Ephemeral:
    """An ephemeral message only one user sees."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    deleted: bool = False

    def as_dict(self) -> JSON:
        """The message as a dict, shaped like a channel message."""
        out: JSON = {"type": "message", "ts": self.ts, "channel": self.channel, "user": self.user,
                     "text": self.text, "source": self.source, "is_ephemeral": True}
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.attachments is not None:
            out["attachments"] = self.attachments
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class Bookmark:
    """A channel bookmark."""

    id: str
    channel_id: str
    title: str
    type: str
    link: str | None
    emoji: str | None
    created: int
    updated_by: str


@dataclass
class Pin:
    """A pinned message."""

    channel: str
    ts: str
    created: int
    created_by: str


@dataclass
class ApiCall:
    """One Web API request received by the emulator."""

    method: str
    params: JSON
    at: float
    status: int = 200
    ok: bool = False
    error: str | None = None
    ratelimited: bool = False
    team_id: str | None = None


@dataclass
class Trigger:
    """A trigger_id issued for a user interaction."""

    id: str
    user: str
    issued: float
    used: bool = False


@dataclass
class ResponseHook:
    """A response_url handed to the bot with a command or interaction."""

    id: str
    user: str
    channel: str
    kind: str
    created: float
    source_ts: str | None = None
    source_ephemeral: bool = False
    thread_ts: str | None = None
    uses: int = 0
    replies: list[JSON] = field(default_factory=list)


@dataclass
class Attempt:
    """One HTTP attempt at delivering an event."""

    retry_num: int | None
    status: int | None
    reason: str | None = None
    seconds: float = 0.0


@dataclass
class Delivery:
    """The delivery record of one event (all its attempts)."""

    event_id: str
    type: str
    payload: JSON
    attempts: list[Attempt] = field(default_factory=list)
    dropped: bool = False

    @property
    def statuses(self) -> list[int | None]:
        """HTTP status of each attempt (None for connection errors/timeouts)."""
        return [a.status for a in self.attempts]

    @property
    def delivered(self) -> bool:
        """True when some attempt was answered with a 2xx."""
        return any(a.status is not None and 200 <= a.status < 300 for a in self.attempts)
