"""SlackDriver: what humans do in the workspace, and what they see."""

from __future__ import annotations

import re
from typing import Any

from . import actions, api_files, interactions, views
from .emulator import SlackEmulator
from .results import CommandResult
from .shapes import message_json, view_json
from .state import JSON, Channel, SlackError, User
from .workspace import Workspace

# A typed link ends before whitespace, before an escaped `<` or `>` and before trailing punctuation.
_URL = re.compile(r"(?<![<\w/])(https?://(?:(?!&[lg]t;)[^\s<>|])*(?<![.,;:!?)]))")
SPECIAL_MENTIONS = ("here", "channel", "everyone")
SYSTEM_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_archive",
                   "channel_name", "tombstone"}


def slack_escape(text: str) -> str:
    """Typed text as Slack delivers it: `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`.

    Slack sends message text (events, edits, conversations.history) and slash-command text, with or without
    should_escape, with these three characters escaped; only its own markup (`<@U…>`, `<#C…|name>`, `<!here>`,
    `<https://…|label>`) keeps literal angle brackets. Modal input values are not escaped.
    Source: https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackDriver:
    """Acts as members of one workspace. Users may be given by name (`"alice"`) or id; channels by id or `#name`."""

    def __init__(self, emulator: SlackEmulator, *, team_id: str | None = None, ack_timeout: float = 3.0) -> None:
        self.emulator = emulator
        self.ack_timeout = ack_timeout
        self.team_id = emulator.workspace_for(team_id).team_id

    def for_team(self, team_id: str) -> SlackDriver:
        """A driver acting in another workspace of the same emulator."""
        return SlackDriver(self.emulator, team_id=team_id, ack_timeout=self.ack_timeout)

    @property
    def ws(self) -> Workspace:
        """The workspace this driver acts in."""
        return self.emulator.workspace_for(self.team_id)

    def user(self, ref: str) -> User:
        """Resolve a user name or id."""
        return self.ws.user(ref)

    def channel(self, ref: str) -> Channel:
        """Resolve a channel id or `#name` (a user ref gives that user's DM with the app)."""
        if ref.startswith("@") or ref in self.ws.users:
            return self.ws.im_for(self.ws.user(ref).id)
        return self.ws.channel(ref)

    def _client_format(self, text: str, *, labels: bool = False) -> str:
        # The Slack client turns typed @name, #channel and links into markup before sending;
        # escaped slash commands use the labelled `<@U…|name>` form. What the person typed is entity-escaped
        # first, so only the client's own markup is `<…>` (see `slack_escape`).
        text = slack_escape(text)
        names = {u.name: u.id for u in self.ws.users.values()}

        def user_sub(m: re.Match[str]) -> str:
            uid = names.get(m.group(1))
            if uid is None:
                # Special mentions become `<!here>` etc.: https://api.slack.com/reference/surfaces/formatting
                return f"<!{m.group(1)}>" if m.group(1) in SPECIAL_MENTIONS else m.group(0)
            return f"<@{uid}|{m.group(1)}>" if labels else f"<@{uid}>"

        def channel_sub(m: re.Match[str]) -> str:
            ch = self.ws.channel_by_name(m.group(1))
            return f"<#{ch.id}|{ch.name}>" if ch else m.group(0)

        text = _URL.sub(r"<\1>", text)
        text = re.sub(r"(?<![<\w])@([a-z0-9_-]+(?:\.[a-z0-9_-]+)*)", user_sub, text)
        return re.sub(r"(?<![<\w&/])#([a-z0-9_-]+)", channel_sub, text)

    def _enter(self, user: User, ch: Channel) -> None:
        if ch.is_archived:
            raise SlackError("is_archived")
        if user.id in ch.members:
            return
        if ch.is_private or ch.is_im or ch.is_mpim:
            raise SlackError("channel_not_found")
        # Posting in a public channel you are previewing joins it first.
        actions.join_channel(self.ws, ch, user)

    async def post(self, user: str, channel: str, text: str, *, thread_ts: str | None = None,
                   broadcast: bool = False) -> str:
        """Post a message as a user; returns its ts."""
        u, ch = self.user(user), self.channel(channel)
        self._enter(u, ch)
        msg = actions.post_message(self.ws, ch, u, text=self._client_format(text), thread_ts=thread_ts,
                                   broadcast=broadcast)
        return msg.ts

    async def dm(self, user: str, text: str) -> str:
        """Send the app a direct message; returns its ts."""
        return await self.post(user, "@" + self.user(user).name, text)

    async def edit(self, user: str, channel: str, ts: str, text: str) -> None:
        """Edit one's own message."""
        u, ch = self.user(user), self.channel(channel)
        msg = self.ws.message(ch.id, ts)
        if msg.user != u.id:
            raise SlackError("cant_update_message")
        actions.update_message(self.ws, msg, u, text=self._client_format(text))

    async def delete(self, user: str, channel: str, ts: str) -> None:
        """Delete one's own message."""
        u, ch = self.user(user), self.channel(channel)
        msg = self.ws.message(ch.id, ts)
        if msg.user != u.id:
            raise SlackError("cant_delete_message")
        actions.delete_message(self.ws, msg)

    async def react(self, user: str, channel: str, ts: str, name: str) -> None:
        """Add an emoji reaction (`"pushpin"` or `":pushpin:"`)."""
        ch = self.channel(channel)
        actions.add_reaction(self.ws, self.ws.message(ch.id, ts), self.user(user), name.strip(":"))

    async def unreact(self, user: str, channel: str, ts: str, name: str) -> None:
        """Remove an emoji reaction."""
        ch = self.channel(channel)
        actions.remove_reaction(self.ws, self.ws.message(ch.id, ts), self.user(user), name.strip(":"))

    async def pin(self, user: str, channel: str, ts: str) -> None:
        """Pin a message."""
        u, ch = self.user(user), self.channel(channel)
        self._enter(u, ch)
        actions.pin_message(self.ws, self.ws.message(ch.id, ts), u)

    async def unpin(self, user: str, channel: str, ts: str) -> None:
        """Unpin a message."""
        ch = self.channel(channel)
        actions.unpin_message(self.ws, self.ws.message(ch.id, ts), self.user(user))

    async def share_file(self, user: str, channel: str, name: str, content: bytes, *,
                         title: str | None = None, thread_ts: str | None = None, text: str = "") -> str:
        """Upload a file into a channel as a user; returns the file id."""
        u, ch = self.user(user), self.channel(channel)
        self._enter(u, ch)
        f = api_files.new_file(self.ws, u.id, name, title=title)
        api_files.store_upload(self.ws, f.id, content)
        actions.share_files(self.ws, ch, u, [f], text=self._client_format(text), thread_ts=thread_ts,
                            upload=True)
        return f.id

    async def share_external_file(self, user: str, channel: str, title: str, url: str, *,
                                  external_type: str = "gdrive", text: str = "") -> str:
        """Share a remote file (e.g. a Google Drive document) into a channel as a user; returns the file id.

        Slack keeps only its address: files.info gives `url_private` = that address, on whatever host it is.
        """
        u, ch = self.user(user), self.channel(channel)
        self._enter(u, ch)
        f = api_files.new_external_file(self.ws, u.id, title, url, external_type=external_type)
        actions.share_files(self.ws, ch, u, [f], text=self._client_format(text), upload=False)
        return f.id

    async def join(self, user: str, channel: str) -> None:
        """Join a public channel."""
        u, ch = self.user(user), self.channel(channel)
        if ch.is_private and u.id not in ch.members:
            raise SlackError("channel_not_found")
        actions.join_channel(self.ws, ch, u)

    async def invite(self, user: str, channel: str, *invitees: str) -> None:
        """Invite members (the app too, as `/invite @retro` does) into a channel the user is in."""
        u, ch = self.user(user), self.channel(channel)
        if u.id not in ch.members:
            raise SlackError("not_in_channel")
        for ref in invitees:
            actions.join_channel(self.ws, ch, self.user(ref), inviter=u.id)

    async def leave(self, user: str, channel: str) -> None:
        """Leave a channel."""
        actions.leave_channel(self.ws, self.channel(channel), self.user(user))

    async def open_home(self, user: str) -> None:
        """Open the app's Home tab (sends `app_home_opened`)."""
        u = self.user(user)
        event: JSON = {"type": "app_home_opened", "user": u.id, "channel": self.ws.im_for(u.id).id,
                       "tab": "home", "event_ts": self.ws.next_ts()}
        home = self.ws.home_views.get(u.id)
        if home:
            event["view"] = view_json(self.ws, self.ws.views[home])
        self.ws.emit(event)

    async def command(self, user: str, channel: str, text: str, *, command: str = "/retro",
                      escape: bool = True) -> CommandResult:
        """Run a slash command (escaped like a command with should_escape); replies arrive after draining."""
        sent = self._client_format(text, labels=True) if escape else slack_escape(text)
        return await interactions.slash_command(self.emulator, self.ws, self.user(user), self.channel(channel), sent,
                                                command=command, timeout=self.ack_timeout)

    async def click(self, user: str, *, action_id: str, channel: str | None = None,
                    message_ts: str | None = None, value: str | None = None, selected_user: str | None = None,
                    selected_option: str | None = None, block_id: str | None = None,
                    view_id: str | None = None, home: bool = False) -> int | None:
        """Click a button or pick from a menu in a message (channel+message_ts), modal (view_id) or Home."""
        u = self.user(user)
        if home:
            view_id = self.ws.home_views.get(u.id)
            if view_id is None:
                raise SlackError("not_found", detail="no App Home view published for this user")
        picked: Any = selected_user if selected_user is not None else selected_option
        picked = value if picked is None else picked
        return await interactions.click(self.emulator, self.ws, u, action_id=action_id,
                                        channel=self.channel(channel) if channel else None,
                                        message_ts=message_ts, view_id=view_id, block_id=block_id,
                                        value=picked, timeout=self.ack_timeout)

    async def submit_view(self, user: str, view_id: str | None = None,
                          values: dict[str, Any] | None = None) -> tuple[int | None, Any]:
        """Submit the user's top modal with `{block_id: {action_id: value}}` (or `{block_id: value}`)."""
        u = self.user(user)
        if view_id is None:
            stack = views.open_modals(self.ws, u.id)
            if not stack:
                raise SlackError("not_found", detail="no modal open for this user")
            view_id = stack[-1].id
        return await interactions.submit_view(self.emulator, self.ws, u, view_id, values or {},
                                              timeout=self.ack_timeout)

    async def close_view(self, user: str) -> int | None:
        """Close the user's top modal (the app hears about it only with notify_on_close)."""
        return await interactions.close_view(self.emulator, self.ws, self.user(user), timeout=self.ack_timeout)

    def messages(self, channel: str, *, include_threads: bool = True,
                 include_system: bool = False) -> list[JSON]:
        """Messages of a channel, oldest first (system join/topic messages only on request)."""
        ch = self.channel(channel)
        out = []
        for msg in self.ws.messages[ch.id].values():
            if msg.is_reply and not include_threads and msg.subtype != "thread_broadcast":
                continue
            if msg.subtype in SYSTEM_SUBTYPES and not include_system:
                continue
            out.append({**message_json(self.ws, msg), "channel": ch.id})
        return out

    def thread(self, channel: str, ts: str) -> list[JSON]:
        """A thread: parent then replies."""
        ch = self.channel(channel)
        parent = self.ws.message(ch.id, ts)
        return [{**message_json(self.ws, m), "channel": ch.id} for m in [parent, *self.ws.replies_of(parent)]]

    def bot_messages(self, channel: str, *, include_threads: bool = True) -> list[JSON]:
        """Messages the app posted in a channel."""
        return [m for m in self.messages(channel, include_threads=include_threads)
                if m.get("user") == self.ws.bot_user_id]

    def ephemerals(self, user: str, channel: str | None = None) -> list[JSON]:
        """Ephemeral messages shown to a user (optionally in one channel)."""
        ch_id = self.channel(channel).id if channel else None
        return [e.as_dict() for e in self.ws.ephemerals_for(self.user(user).id, ch_id)]

    def views_open_for(self, user: str) -> list[JSON]:
        """The user's open modal stack, bottom first."""
        return [view_json(self.ws, v) for v in views.open_modals(self.ws, self.user(user).id)]

    def home_view(self, user: str) -> JSON | None:
        """The App Home view published for a user, if any."""
        view_id = self.ws.home_views.get(self.user(user).id)
        return view_json(self.ws, self.ws.views[view_id]) if view_id else None

    def channel_by_name(self, name: str) -> Channel | None:
        """A channel by name (with or without `#`)."""
        return self.ws.channel_by_name(name)

    def dm_channel(self, user: str) -> str:
        """The id of the app's DM with a user."""
        return self.ws.im_for(self.user(user).id).id

    def dms(self, user: str) -> list[JSON]:
        """Messages in the app's DM with a user, oldest first."""
        return self.messages(self.dm_channel(user))
