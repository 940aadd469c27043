"""Web API methods: chat.*, pins.*, reactions.*."""

from __future__ import annotations

import re
from typing import Any

from . import actions
from .api_common import ApiContext, Handler, Params
from .shapes import message_json
from .state import JSON, Channel, Ephemeral, Message, SlackError
from .validation import check_message_blocks, check_message_text, with_ids

_EMOJI_NAME = re.compile(r"[a-z0-9_+'\-]+(::skin-tone-[2-6])?")


def _target(ctx: ApiContext, ref: str | None) -> Channel:
    ws = ctx.ws
    if ref and ref in ws.users:
        # Posting to a user id lands in the app's DM with that user.
        return ws.im_for(ref)
    # Slack's reference says `channel` may be "an encoded ID or channel name", but apps report a bot token's post to
    # a name answered `channel_not_found` while the id works (github.com/slackapi/bolt-js/issues/1167, 2021). The
    # strict reading: ids only, a name (with or without `#`) is `channel_not_found`.
    return ctx.writable_channel(ref)


def _content(p: Params) -> tuple[str | None, Any, Any]:
    text = p.text("text")
    blocks = p.structured("blocks", "invalid_blocks_format")
    attachments = p.structured("attachments", "invalid_attachments")
    if blocks is not None:
        check_message_blocks(blocks)
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    check_message_text(text)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    return text, with_ids(blocks), attachments


def chat_post_message(ctx: ApiContext, p: Params) -> JSON:
    """chat.postMessage"""
    ch = _target(ctx, p.text("channel"))
    text, blocks, attachments = _content(p)
    extra: JSON = {key: p.text(key) for key in ("username", "icon_emoji", "icon_url") if p.text(key)}
    metadata = p.structured("metadata")
    if metadata:
        extra["metadata"] = metadata
    msg = actions.post_message(ctx.ws, ch, ctx.bot, text=text or "", blocks=blocks, attachments=attachments,
                               thread_ts=p.text("thread_ts") or None, extra=extra,
                               broadcast=p.flag("reply_broadcast"))
    return {"channel": ch.id, "ts": msg.ts, "message": message_json(ctx.ws, msg)}


def chat_post_ephemeral(ctx: ApiContext, p: Params) -> JSON:
    """chat.postEphemeral"""
    ch = _target(ctx, p.text("channel"))
    user = ctx.user(p.text("user"))
    if user.id not in ch.members:
        raise SlackError("user_not_in_channel")
    text, blocks, attachments = _content(p)
    eph = Ephemeral(ts=ctx.ws.next_ts(), channel=ch.id, user=user.id, text=text or "", blocks=blocks,
                    attachments=attachments, thread_ts=p.text("thread_ts") or None)
    ctx.ws.ephemerals.append(eph)
    return {"message_ts": eph.ts}


def _own_message(ctx: ApiContext, p: Params, ts_param: str, error: str) -> tuple[Channel, Message]:
    ch = ctx.visible_channel(p.text("channel"))
    msg = ctx.ws.message(ch.id, p.text(ts_param) or "")
    if msg.user != ctx.ws.bot_user_id or msg.subtype in ("channel_join", "channel_topic", "channel_purpose"):
        raise SlackError(error)
    return ch, msg


def chat_update(ctx: ApiContext, p: Params) -> JSON:
    """chat.update (only the app's own messages)."""
    ch, msg = _own_message(ctx, p, "ts", "cant_update_message")
    if ch.is_archived:
        raise SlackError("is_archived")
    text, blocks, attachments = _content(p)
    actions.update_message(ctx.ws, msg, ctx.bot, text=text, blocks=blocks, attachments=attachments)
    return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": message_json(ctx.ws, msg)}


def chat_delete(ctx: ApiContext, p: Params) -> JSON:
    """chat.delete (only the app's own messages)."""
    ch, msg = _own_message(ctx, p, "ts", "cant_delete_message")
    actions.delete_message(ctx.ws, msg)
    return {"channel": ch.id, "ts": msg.ts}


def chat_get_permalink(ctx: ApiContext, p: Params) -> JSON:
    """chat.getPermalink"""
    ch = ctx.visible_channel(p.text("channel"))
    msg = ctx.ws.message(ch.id, p.text("message_ts") or "")
    return {"channel": ch.id, "permalink": ctx.ws.permalink(ch.id, msg.ts, msg.thread_ts)}


def _pinnable(ctx: ApiContext, p: Params) -> Message:
    ch = ctx.visible_channel(p.text("channel"))
    if ctx.ws.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    if ch.is_archived:
        raise SlackError("is_archived")
    ts = p.text("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    return ctx.ws.message(ch.id, ts)


def pins_add(ctx: ApiContext, p: Params) -> JSON:
    """pins.add"""
    actions.pin_message(ctx.ws, _pinnable(ctx, p), ctx.bot)
    return {}


def pins_remove(ctx: ApiContext, p: Params) -> JSON:
    """pins.remove"""
    actions.unpin_message(ctx.ws, _pinnable(ctx, p), ctx.bot)
    return {}


def pins_list(ctx: ApiContext, p: Params) -> JSON:
    """pins.list (most recently pinned first)."""
    ch = ctx.visible_channel(p.text("channel"))
    pins = sorted(ctx.ws.pins.get(ch.id, {}).values(), key=lambda pin: pin.created, reverse=True)
    return {"items": [{"type": "message", "created": pin.created, "created_by": pin.created_by,
                       "channel": ch.id, "message": message_json(ctx.ws, ctx.ws.message(ch.id, pin.ts))}
                      for pin in pins]}


def _reaction_target(ctx: ApiContext, p: Params) -> tuple[Message, str]:
    ch = ctx.visible_channel(p.text("channel"))
    ts = p.text("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    msg = ctx.ws.message(ch.id, ts)
    name = p.text("name") or ""
    # Slack wants the bare name: ":eyes:" is rejected.
    if not _EMOJI_NAME.fullmatch(name):
        raise SlackError("invalid_name")
    return msg, name


def reactions_add(ctx: ApiContext, p: Params) -> JSON:
    """reactions.add"""
    msg, name = _reaction_target(ctx, p)
    actions.add_reaction(ctx.ws, msg, ctx.bot, name)
    return {}


def reactions_remove(ctx: ApiContext, p: Params) -> JSON:
    """reactions.remove"""
    msg, name = _reaction_target(ctx, p)
    actions.remove_reaction(ctx.ws, msg, ctx.bot, name)
    return {}


def reactions_get(ctx: ApiContext, p: Params) -> JSON:
    """reactions.get"""
    ch = ctx.visible_channel(p.text("channel"))
    msg = ctx.ws.message(ch.id, p.text("timestamp") or "")
    return {"type": "message", "channel": ch.id, "message": message_json(ctx.ws, msg)}


HANDLERS: dict[str, Handler] = {
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "pins.add": pins_add,
    "pins.remove": pins_remove,
    "pins.list": pins_list,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
