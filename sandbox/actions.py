"""State changes shared by the Web API (bot) and the driver (humans), with their events."""

from __future__ import annotations

import re
import time
import uuid

from .shapes import channel_json, message_event, message_json
from .state import JSON, Channel, FileObj, Message, Pin, SlackError, TopicInfo, User
from .validation import check_channel_name
from .workspace import Workspace


def emit_in(ws: Workspace, ch: Channel, event: JSON) -> None:
    """Emit a channel-scoped event; Slack only sends those for conversations the bot is in."""
    if ws.bot_user_id in ch.members:
        ws.emit(event)


def rich_text_blocks(text: str) -> list[JSON]:
    """The rich_text block a Slack client attaches to a typed message."""
    return [{"type": "rich_text", "block_id": uuid.uuid4().hex[:5], "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


def post_message(ws: Workspace, ch: Channel, author: User, *, text: str, blocks: list[JSON] | None = None,
                 attachments: list[JSON] | None = None, thread_ts: str | None = None,
                 files: list[str] | None = None, subtype: str | None = None, extra: JSON | None = None,
                 broadcast: bool = False, ts: str | None = None) -> Message:
    """Store a new message and emit its `message` event (and `app_mention` if the bot is mentioned)."""
    store = ws.messages[ch.id]
    parent = store.get(thread_ts) if thread_ts else None
    if parent is not None and parent.is_reply:
        # Replying to a reply lands in the same thread.
        thread_ts = parent.thread_ts
        parent = store.get(thread_ts) if thread_ts else None
    is_app = author.id == ws.bot_user_id
    msg = Message(ts=ts or ws.next_ts(), channel=ch.id, text=text, user=author.id,
                  bot_id=author.bot_id if author.is_bot else None, app_id=ws.app_id if is_app else None,
                  subtype=subtype or ("thread_broadcast" if broadcast and thread_ts else None),
                  thread_ts=thread_ts, blocks=blocks, attachments=attachments, files=list(files or []),
                  extra=dict(extra or {}))
    if not author.is_bot and subtype is None:
        msg.extra.setdefault("client_msg_id", str(uuid.uuid4()))
        if msg.blocks is None and text:
            msg.blocks = rich_text_blocks(text)
    store[msg.ts] = msg
    if parent is not None and parent.thread_ts is None:
        parent.thread_ts = parent.ts
    emit_in(ws, ch, message_event(ws, msg))
    mentioned = re.search(rf"<@{re.escape(ws.bot_user_id)}(\|[^>]*)?>", text or "")
    if mentioned and not is_app and not ch.is_im and subtype is None:
        event: JSON = {"type": "app_mention", "user": author.id, "text": text, "ts": msg.ts,
                       "channel": ch.id, "event_ts": msg.ts, "team": ws.team_id}
        if msg.blocks is not None:
            event["blocks"] = msg.blocks
        if "client_msg_id" in msg.extra:
            event["client_msg_id"] = msg.extra["client_msg_id"]
        if msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
        emit_in(ws, ch, event)
    return msg


def update_message(ws: Workspace, msg: Message, editor: User, *, text: str | None = None,
                   blocks: list[JSON] | None = None, attachments: list[JSON] | None = None,
                   replace: bool = False) -> Message:
    """Edit a message and emit `message_changed` (chat.update keeps omitted blocks; `replace` does not)."""
    previous = message_json(ws, msg)
    if replace:
        msg.blocks, msg.attachments = None, None
    if text is not None:
        msg.text = text
        if blocks is None and not editor.is_bot:
            msg.blocks = rich_text_blocks(text)
    if blocks is not None:
        msg.blocks = blocks
    if attachments is not None:
        msg.attachments = attachments
    event_ts = ws.next_ts()
    msg.edited = {"user": editor.id, "ts": event_ts}
    ch = ws.channels[msg.channel]
    emit_in(ws, ch, {"type": "message", "subtype": "message_changed", "hidden": True,
                     "message": message_json(ws, msg), "previous_message": previous, "channel": ch.id,
                     "ts": event_ts, "event_ts": event_ts, "channel_type": ch.channel_type})
    return msg


def delete_message(ws: Workspace, msg: Message) -> None:
    """Delete a message (a thread parent with replies leaves a tombstone) and emit `message_deleted`."""
    previous = message_json(ws, msg)
    ch = ws.channels[msg.channel]
    ws.pins.get(ch.id, {}).pop(msg.ts, None)
    if not msg.is_reply and ws.replies_of(msg):
        msg.subtype, msg.text, msg.user, msg.bot_id, msg.app_id = "tombstone", "This message was deleted.", \
            "USLACKBOT", None, None
        msg.blocks, msg.attachments, msg.files, msg.pinned_to, msg.reactions = None, None, [], [], {}
        msg.extra = {"hidden": True}
    else:
        del ws.messages[ch.id][msg.ts]
    event_ts = ws.next_ts()
    emit_in(ws, ch, {"type": "message", "subtype": "message_deleted", "hidden": True, "deleted_ts": msg.ts,
                     "channel": ch.id, "previous_message": previous, "ts": event_ts, "event_ts": event_ts,
                     "channel_type": ch.channel_type})


def _item(msg: Message) -> JSON:
    return {"type": "message", "channel": msg.channel, "ts": msg.ts}


def add_reaction(ws: Workspace, msg: Message, user: User, name: str) -> None:
    """Add a reaction; `already_reacted` if this user already used it."""
    users = msg.reactions.setdefault(name, [])
    if user.id in users:
        raise SlackError("already_reacted")
    users.append(user.id)
    emit_in(ws, ws.channels[msg.channel], {"type": "reaction_added", "user": user.id, "reaction": name,
                                           "item_user": msg.user, "item": _item(msg),
                                           "event_ts": ws.next_ts()})


def remove_reaction(ws: Workspace, msg: Message, user: User, name: str) -> None:
    """Remove a reaction; `no_reaction` if it was not there."""
    users = msg.reactions.get(name, [])
    if user.id not in users:
        raise SlackError("no_reaction")
    users.remove(user.id)
    if not users:
        del msg.reactions[name]
    emit_in(ws, ws.channels[msg.channel], {"type": "reaction_removed", "user": user.id, "reaction": name,
                                           "item_user": msg.user, "item": _item(msg),
                                           "event_ts": ws.next_ts()})


def pin_message(ws: Workspace, msg: Message, user: User) -> None:
    """Pin a message; `already_pinned` if it is."""
    pins = ws.pins.setdefault(msg.channel, {})
    if msg.ts in pins:
        raise SlackError("already_pinned")
    pin = Pin(channel=msg.channel, ts=msg.ts, created=int(time.time()), created_by=user.id)
    pins[msg.ts] = pin
    msg.pinned_to.append(msg.channel)
    emit_in(ws, ws.channels[msg.channel], {
        "type": "pin_added", "user": user.id, "channel_id": msg.channel, "item_user": msg.user,
        "item": {"type": "message", "created": pin.created, "created_by": user.id, "channel": msg.channel,
                 "message": message_json(ws, msg)},
        "pin_count": len(pins), "pinned_info": {"channel": msg.channel, "pinned_by": user.id,
                                                "pinned_ts": pin.created},
        "event_ts": ws.next_ts()})


def unpin_message(ws: Workspace, msg: Message, user: User) -> None:
    """Unpin a message; `no_pin` if it is not pinned."""
    pins = ws.pins.setdefault(msg.channel, {})
    if pins.pop(msg.ts, None) is None:
        raise SlackError("no_pin")
    if msg.channel in msg.pinned_to:
        msg.pinned_to.remove(msg.channel)
    emit_in(ws, ws.channels[msg.channel], {
        "type": "pin_removed", "user": user.id, "channel_id": msg.channel, "item_user": msg.user,
        "item": {"type": "message", "channel": msg.channel, "message": message_json(ws, msg)},
        "pin_count": len(pins), "has_pins": bool(pins), "event_ts": ws.next_ts()})


def join_channel(ws: Workspace, ch: Channel, user: User, *, inviter: str | None = None) -> bool:
    """Add a member (posting the `channel_join` message); False if already a member."""
    if user.id in ch.members:
        return False
    ch.members.append(user.id)
    event: JSON = {"type": "member_joined_channel", "user": user.id, "channel": ch.id,
                   "channel_type": "G" if ch.is_private else "C", "team": ws.team_id,
                   "event_ts": ws.next_ts()}
    if inviter:
        event["inviter"] = inviter
    emit_in(ws, ch, event)
    extra: JSON = {"inviter": inviter} if inviter else {}
    post_message(ws, ch, user, text=f"<@{user.id}> has joined the channel", subtype="channel_join",
                 extra=extra)
    return True


def leave_channel(ws: Workspace, ch: Channel, user: User) -> None:
    """Remove a member (posting `channel_leave`) and emit `member_left_channel`."""
    if user.id not in ch.members:
        raise SlackError("not_in_channel")
    bot_was_in = ws.bot_user_id in ch.members
    post_message(ws, ch, user, text=f"<@{user.id}> has left the channel", subtype="channel_leave")
    ch.members.remove(user.id)
    if bot_was_in:
        ws.emit({"type": "member_left_channel", "user": user.id, "channel": ch.id,
                 "channel_type": "G" if ch.is_private else "C", "team": ws.team_id, "event_ts": ws.next_ts()})


def create_channel(ws: Workspace, name: str, creator: User, *, is_private: bool = False) -> Channel:
    """Create a channel after Slack's name checks; emits `channel_created` for public ones."""
    check_channel_name(name)
    # Archived channels keep their names reserved.
    if any(c.name == name and not c.is_im for c in ws.channels.values()):
        raise SlackError("name_taken")
    ch = ws.add_channel(Channel(id=ws.new_id("G" if is_private else "C"), name=name, created=int(time.time()),
                                creator=creator.id, is_private=is_private, members=[creator.id]))
    if not is_private:
        ws.emit({"type": "channel_created", "channel": channel_json(ws, ch, viewer=creator.id),
                 "event_ts": ws.next_ts()})
    post_message(ws, ch, creator, text=f"<@{creator.id}> has joined the channel", subtype="channel_join")
    return ch


def set_topic(ws: Workspace, ch: Channel, user: User, value: str, *, field: str = "topic") -> None:
    """Set the topic or purpose, posting the `channel_topic`/`channel_purpose` message Slack shows."""
    info = TopicInfo(value=value, creator=user.id, last_set=int(time.time()))
    setattr(ch, field, info)
    verb = f"set the channel {field}: {value}" if value else f"cleared the channel {field}"
    post_message(ws, ch, user, text=f"<@{user.id}> {verb}", subtype=f"channel_{field}", extra={field: value})


def archive_channel(ws: Workspace, ch: Channel, user: User) -> None:
    """Archive a channel and emit `channel_archive`."""
    ch.is_archived = True
    post_message(ws, ch, user, text=f"<@{user.id}> archived the channel", subtype="channel_archive")
    emit_in(ws, ch, {"type": "channel_archive", "channel": ch.id, "user": user.id, "is_moved": 0,
                     "event_ts": ws.next_ts()})


def share_files(ws: Workspace, ch: Channel, author: User, files: list[FileObj], *, text: str = "",
                thread_ts: str | None = None, upload: bool = True) -> Message:
    """Post a `file_share` message carrying files into a channel."""
    ts = ws.next_ts()
    for f in files:
        f.completed = True
        f.shares.setdefault(ch.id, []).append(ts)
    return post_message(ws, ch, author, text=text, thread_ts=thread_ts, files=[f.id for f in files],
                        subtype="file_share", extra={"upload": upload, "display_as_bot": False}, ts=ts)
