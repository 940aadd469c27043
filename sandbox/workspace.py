"""In-memory workspace state with id/ts generation and lookups."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from .state import (
    JSON,
    Bookmark,
    Channel,
    Clock,
    Ephemeral,
    FileObj,
    Message,
    Pin,
    ResponseHook,
    SlackError,
    Trigger,
    User,
    View,
)

SEED_HUMANS = ("alice", "bob", "carol", "dave", "erin")
# Every workspace has exactly one primary owner, the person who created it (Slack help, "Roles in Slack"); the first
# seeded human is that person, the second an admin, the others members (users.info: is_primary_owner, is_admin).
SEED_ROLES = ("primary_owner", "admin")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(n: int) -> str:
    """A non-negative integer in upper-case base 36."""
    out = ""
    while True:
        n, rem = divmod(n, 36)
        out = _ID_ALPHABET[rem] + out
        if n == 0:
            return out


class Workspace:
    """Everything the emulated Slack knows: users, channels, messages, views, files."""

    def __init__(self, *, team_id: str, domain: str = "sandbox", team_name: str = "Sandbox",
                 bot_user_id: str | None = None, bot_id: str | None = None, app_id: str = "A0SANDBOX",
                 bot_name: str = "retro", tag: str = "0", humans: Iterable[str] = SEED_HUMANS,
                 with_bot: bool = True, clock: Clock = time.monotonic) -> None:
        self.team_id = team_id
        self.clock = clock
        self.domain = domain
        self.team_name = team_name
        self.tag = tag
        self.bot_user_id = bot_user_id or f"U{tag}BOT"
        self.bot_id = bot_id or f"B{tag}BOT"
        self.bot_name = bot_name
        self.app_id = app_id
        self.installed = False
        # Set for a workspace of an Enterprise Grid organization (id and name of the enterprise).
        self.enterprise_id: str | None = None
        self.enterprise_name: str | None = None
        self.org_install = False  # the app acts here through its organization's org-wide install
        self.org_level = False  # stands for a whole Grid organization: where an org-wide token acts without a team
        self.public_url = "http://127.0.0.1"
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.files: dict[str, FileObj] = {}
        self.views: dict[str, View] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, str] = {}
        self.ephemerals: list[Ephemeral] = []
        self.bookmarks: dict[str, list[Bookmark]] = {}
        self.pins: dict[str, dict[str, Pin]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.hooks: dict[str, ResponseHook] = {}
        self.emit: Callable[[JSON], None] = lambda event: None
        # Where ids and timestamps carry on from (kept with a saved workspace, so a resumed one reuses neither).
        self.ids_issued = 0
        self.last_micros = 0
        if with_bot:
            self.install_bot()
        for n, name in enumerate(humans):
            self.add_user(name, role=SEED_ROLES[n] if n < len(SEED_ROLES) else "member")
        humans_ids = self.human_ids()
        general = Channel(id=f"C{tag}GENERAL", name="general", created=int(time.time()),
                          creator=humans_ids[0] if humans_ids else self.bot_user_id, is_general=True,
                          members=[*humans_ids, *([self.bot_user_id] if with_bot else [])])
        self.add_channel(general)

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id such as `C0000000A1`, unique across the emulator's workspaces."""
        self.ids_issued += 1
        return f"{prefix}{self.tag}{base36(self.ids_issued).rjust(9 - len(self.tag), '0')}"

    def install_bot(self) -> User:
        """Mark the app installed, creating (or reactivating) its bot user."""
        bot = self.users.get(self.bot_user_id)
        if bot is None:
            bot = User(self.bot_user_id, self.bot_name, self.bot_name.capitalize(), is_bot=True, bot_id=self.bot_id)
            self.users[bot.id] = bot
        bot.deleted = False
        self.installed = True
        return bot

    def uninstall_bot(self) -> None:
        """Mark the app uninstalled; its bot user is deactivated."""
        self.installed = False
        if self.bot_user_id in self.users:
            self.users[self.bot_user_id].deleted = True

    def next_ts(self) -> str:
        """A message timestamp, strictly greater than every earlier one."""
        micros = max(int(time.time() * 1_000_000), self.last_micros + 1)
        self.last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add_user(self, name: str, *, real_name: str | None = None, is_bot: bool = False,
                 role: str = "member") -> str:
        """Create a user (a workspace member unless `role` says primary_owner, owner or admin); return its id."""
        if any(u.name == name for u in self.users.values()):
            raise ValueError(f"user {name!r} already exists")
        slug = re.sub(r"[^A-Z0-9]", "", name.upper())[:8] or "USER"
        user_id = f"U{self.tag}{slug}"
        if user_id in self.users:
            user_id = self.new_id("U")
        bot_id = self.new_id("B") if is_bot else None
        self.users[user_id] = User(user_id, name, real_name or name.capitalize(), is_bot=is_bot,
                                   bot_id=bot_id, email=f"{name}@{self.domain}.example.com", role=role)
        return user_id

    def human_ids(self) -> list[str]:
        """Ids of all non-bot users."""
        return [u.id for u in self.users.values() if not u.is_bot]

    def user(self, ref: str) -> User:
        """Find a user by id, name or `@name`; raise `user_not_found` otherwise."""
        ref = ref.removeprefix("@")
        if m := re.fullmatch(r"<@([A-Z0-9]+)(\|[^>]*)?>", ref):
            ref = m.group(1)
        found = self.users.get(ref)
        if found is None:
            found = next((u for u in self.users.values() if u.name == ref), None)
        if found is None:
            raise SlackError("user_not_found")
        return found

    @property
    def bot_user(self) -> User:
        """The app's bot user."""
        return self.users[self.bot_user_id]

    def add_channel(self, channel: Channel) -> Channel:
        """Register a channel."""
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, {})
        return channel

    def channel(self, ref: str) -> Channel:
        """Find a channel by id, `#name` or name; raise `channel_not_found` otherwise."""
        found = self.channels.get(ref)
        if found is None:
            name = ref.removeprefix("#")
            found = next((c for c in self.channels.values()
                          if c.name == name and not c.is_im and not c.is_mpim), None)
        if found is None:
            raise SlackError("channel_not_found")
        return found

    def channel_by_name(self, name: str) -> Channel | None:
        """A channel by name (with or without `#`), or None."""
        try:
            return self.channel("#" + name.removeprefix("#"))
        except SlackError:
            return None

    def im_for(self, user_id: str) -> Channel:
        """The IM between the bot and a user, opened on first use."""
        for ch in self.channels.values():
            if ch.is_im and ch.im_user == user_id:
                return ch
        im = Channel(id=self.new_id("D"), name=user_id, created=int(time.time()), creator=user_id,
                     is_im=True, is_private=True, members=[user_id, self.bot_user_id], im_user=user_id)
        return self.add_channel(im)

    def is_member(self, channel: Channel, user_id: str) -> bool:
        """Whether a user is in a conversation."""
        return user_id in channel.members

    def message(self, channel_id: str, ts: str) -> Message:
        """A stored message; raise `message_not_found` otherwise."""
        found = self.messages.get(channel_id, {}).get(ts)
        if found is None:
            raise SlackError("message_not_found")
        return found

    def replies_of(self, msg: Message) -> list[Message]:
        """Thread replies of a parent message, oldest first."""
        return [m for m in self.messages[msg.channel].values() if m.thread_ts == msg.ts and m.ts != msg.ts]

    def ephemerals_for(self, user_id: str, channel_id: str | None = None) -> list[Ephemeral]:
        """Live ephemeral messages shown to a user."""
        return [e for e in self.ephemerals
                if e.user == user_id and not e.deleted and (channel_id is None or e.channel == channel_id)]

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
        """The permalink Slack would give to a message."""
        link = f"https://{self.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link
