"""Slack payloads read through typed accessors (pure functions): events become the domain's happenings; commands
and interactions give who, where, and what was clicked or submitted. Nothing here raises on a field that is
missing or of the wrong type: Slack adds fields, and forged bodies send anything. Message text (posts, edits) is
kept exactly as Slack sent it, entity-escaped: the chain commits to it, and bot.record.timeline.readable_text
decodes it for people to read; command text is decoded in handlers.parsing, and modal values come unescaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.record.timeline import Deleted, Edited, Happening, Marked, Posted
from bot.slack.files import SharedFiles

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
IGNORED_SUBTYPES = frozenset({"message_replied", "channel_topic", "channel_purpose", "pinned_item"})


def permalink(base_url: str | None, channel: str, ts: str, thread_ts: str | None) -> str | None:
    """The message link Slack uses, built without an API call when the workspace URL is known."""
    if not base_url:
        return None
    link = f"{base_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts else link


def _obj(value: Any) -> dict[str, Any]:
    """A nested object of the payload, or {} when Slack (or anyone) sent something else."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    """A string field, or None when absent or of another type."""
    return value if isinstance(value, str) and value else None


def _files(event: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    files = event.get("files")
    return tuple({"id": _str(f.get("id")), "name": _str(f.get("name")), "mimetype": _str(f.get("mimetype")),
                  "size": f.get("size") if isinstance(f.get("size"), int) else None}
                 for f in (files if isinstance(files, list) else []) if isinstance(f, dict))


FILE_SUBTYPES = (None, "file_share", "thread_broadcast")
# Events about the app itself that still mean something (slack_bolt's ignoring_self_events keeps the same two).
KEPT_OWN_EVENTS = frozenset({"member_joined_channel", "member_left_channel"})


def skips_own_event(event: dict[str, Any], *, actor: str | None, bot_user_id: str | None,
                    bot_id: str | None) -> bool:
    """Whether an event is the app's own doing (its posts, uploads, pins, edits), already recorded when it acted."""
    if event.get("type") in KEPT_OWN_EVENTS:
        return False
    # Slack delivers the app's own doings back to it. A `message_deleted` names the bot as `previous_message.user`
    # when one of its posts goes, yet a person may have deleted it: that is recorded.
    if event.get("type") == "message" and event.get("subtype") == "message_deleted":
        return False
    by_user = actor is not None and actor == bot_user_id
    by_bot = bot_id is not None and _str(event.get("bot_id")) == bot_id
    return by_user or by_bot


def needs_listener(event: dict[str, Any], incident_id: int | None) -> bool:
    """Whether an event has follow-up work beyond being recorded: only files shared in an incident channel do,
    among messages. The ingest middleware answers the rest itself once they are committed."""
    if event.get("type") != "message":
        return True
    return bool(incident_id and event.get("files") and event.get("subtype") in FILE_SUBTYPES)


def home_opened_by(event: dict[str, Any]) -> str | None:
    """The user who opened the App Home tab (None for the Messages tab or an odd user id)."""
    user = _str(event.get("user"))
    return user if event.get("tab", "home") == "home" and user and _USER_ID.fullmatch(user) else None


def revokes_bot_tokens(event: dict[str, Any]) -> bool:
    """Whether a tokens_revoked event names bot tokens (user tokens alone leave the bot installed)."""
    return bool(_obj(event.get("tokens")).get("bot"))


def shared_files(event: dict[str, Any]) -> SharedFiles:
    """The files a message shares: their ids, where, by whom, in which message."""
    ids = tuple(f["id"] for f in _files(event) if f["id"])
    return SharedFiles(ids, _str(event.get("channel")) or "", _str(event.get("user")), _str(event.get("ts")))


def happening_of(event: dict[str, Any], *, key_reaction: str, base_url: str | None = None,
                 bot_id: str | None = None) -> Happening | None:
    """What this event means for an incident timeline, or None when it means nothing."""
    etype = event.get("type")
    if etype == "message":
        return _message(event, base_url, bot_id)
    if etype == "reaction_added" and event.get("reaction") == key_reaction:
        item = _obj(event.get("item"))
        channel, ts = _str(item.get("channel")), _str(item.get("ts"))
        if item.get("type") == "message" and channel and ts:
            return Marked(channel, _str(event.get("user")), ts, f"reaction:{key_reaction}")
    if etype == "pin_added":
        item = _obj(event.get("item"))
        ts = _str(_obj(item.get("message")).get("ts"))
        channel = _str(event.get("channel_id")) or _str(item.get("channel"))
        if channel and ts:
            return Marked(channel, _str(event.get("user")), ts, "pin")
    return None


def _message(event: dict[str, Any], base_url: str | None, bot_id: str | None) -> Happening | None:
    channel = _str(event.get("channel"))
    subtype = event.get("subtype")
    if not channel or subtype in IGNORED_SUBTYPES:
        return None
    if subtype == "message_changed":
        new, old = _obj(event.get("message")), _obj(event.get("previous_message"))
        ts = _str(new.get("ts"))
        if not ts or new.get("text") == old.get("text") or (bot_id and new.get("bot_id") == bot_id):
            return None  # unfurls and our own card refreshes also arrive as message_changed
        return Edited(channel, _str(new.get("user")), ts, _str(new.get("text")) or "",
                      _str(_obj(new.get("edited")).get("ts")))
    if subtype == "message_deleted":
        previous = _obj(event.get("previous_message"))
        ts = _str(event.get("deleted_ts")) or _str(previous.get("ts"))
        return Deleted(channel, ts, _str(previous.get("user"))) if ts else None
    ts = _str(event.get("ts"))
    if not ts:
        return None
    thread_ts = _str(event.get("thread_ts"))
    thread = thread_ts if thread_ts and thread_ts != ts else None
    return Posted(channel, _str(event.get("user")) or _str(event.get("bot_id")), ts, _str(event.get("text")) or "",
                  thread, _files(event), permalink(base_url, channel, ts, thread), bot=bool(event.get("bot_id")))


@dataclass(frozen=True)
class Origin:
    """Who sent a command or interaction, from where, and the ids to answer with."""

    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str | None = None
    enterprise_id: str | None = None


def flat_origin(body: dict[str, Any]) -> Origin:
    """From a payload whose ids are flat fields: slash commands and Events API callbacks."""
    return Origin(_str(body.get("team_id")) or "", _str(body.get("user_id")) or "", _str(body.get("channel_id")) or "",
                  _str(body.get("trigger_id")), _str(body.get("enterprise_id")))


def interaction_origin(body: dict[str, Any]) -> Origin:
    """From a block_actions or view_submission payload (nested objects)."""
    user = _obj(body.get("user"))
    channel = _str(_obj(body.get("channel")).get("id")) or _str(_obj(body.get("container")).get("channel_id"))
    return Origin(_str(_obj(body.get("team")).get("id")) or _str(user.get("team_id")) or "", _str(user.get("id")) or "",
                  channel or "", _str(body.get("trigger_id")), _str(_obj(body.get("enterprise")).get("id")))


@dataclass(frozen=True)
class Clicked:
    """The first action of a block_actions payload."""

    action_id: str
    value: str
    selected_user: str


def clicked(body: dict[str, Any]) -> Clicked:
    """The button or picker that was used."""
    actions = body.get("actions")
    first = _obj(actions[0]) if isinstance(actions, list) and actions else {}
    return Clicked(_str(first.get("action_id")) or "", _str(first.get("value")) or "",
                   _str(first.get("selected_user")) or "")


def action_value(body: dict[str, Any]) -> str:
    """The value of the button that was clicked ('' when it has none)."""
    return clicked(body).value


def in_message(body: dict[str, Any]) -> bool:
    """Whether the click came from a message (which can be replaced), not from a view such as the App Home."""
    return _obj(body.get("container")).get("type") == "message"


def view_of(body: dict[str, Any]) -> dict[str, Any]:
    """The submitted view of a view_submission payload."""
    return _obj(body.get("view"))


def private_metadata(body: dict[str, Any]) -> str:
    """The submitted view's private_metadata ('' when absent)."""
    return _str(view_of(body).get("private_metadata")) or ""
