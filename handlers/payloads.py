"""Slack event payloads turned into the domain's typed happenings (pure functions)."""

from __future__ import annotations

from typing import Any

from bot.timeline import Deleted, Edited, Happening, Marked, Posted

IGNORED_SUBTYPES = frozenset({"message_replied", "channel_topic", "channel_purpose", "pinned_item"})


def permalink(base_url: str | None, channel: str, ts: str, thread_ts: str | None) -> str | None:
    """The message link Slack uses, built without an API call when the workspace URL is known."""
    if not base_url:
        return None
    link = f"{base_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts else link


def _files(event: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    return tuple({"id": f.get("id"), "name": f.get("name"), "mimetype": f.get("mimetype"), "size": f.get("size")}
                 for f in event.get("files") or [] if isinstance(f, dict))


def happening_of(event: dict[str, Any], *, key_reaction: str, base_url: str | None = None,
                 bot_id: str | None = None) -> Happening | None:
    """What this event means for an incident timeline, or None when it means nothing."""
    etype = event.get("type")
    if etype == "message":
        return _message(event, base_url, bot_id)
    if etype == "reaction_added" and event.get("reaction") == key_reaction:
        item = event.get("item") or {}
        if item.get("type") == "message" and item.get("channel") and item.get("ts"):
            return Marked(str(item["channel"]), event.get("user"), str(item["ts"]), f"reaction:{key_reaction}")
    if etype == "pin_added":
        item = event.get("item") or {}
        message = item.get("message") or {}
        channel = event.get("channel_id") or item.get("channel")
        if channel and message.get("ts"):
            return Marked(str(channel), event.get("user"), str(message["ts"]), "pin")
    return None


def _message(event: dict[str, Any], base_url: str | None, bot_id: str | None) -> Happening | None:
    channel = event.get("channel")
    subtype = event.get("subtype")
    if not channel or subtype in IGNORED_SUBTYPES:
        return None
    if subtype == "message_changed":
        new = event.get("message") or {}
        old = event.get("previous_message") or {}
        if not new.get("ts") or new.get("text") == old.get("text") or (bot_id and new.get("bot_id") == bot_id):
            return None  # unfurls and our own card refreshes also arrive as message_changed
        return Edited(str(channel), new.get("user"), str(new["ts"]), str(new.get("text") or ""),
                      (new.get("edited") or {}).get("ts"))
    if subtype == "message_deleted":
        ts = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
        if not ts:
            return None
        return Deleted(str(channel), str(ts), (event.get("previous_message") or {}).get("user"))
    ts = event.get("ts")
    if not ts:
        return None
    thread_ts = event.get("thread_ts")
    thread = str(thread_ts) if thread_ts and thread_ts != ts else None
    return Posted(str(channel), event.get("user") or event.get("bot_id"), str(ts), str(event.get("text") or ""),
                  thread, _files(event), permalink(base_url, str(channel), str(ts), thread),
                  bot=bool(event.get("bot_id")))
