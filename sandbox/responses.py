"""response_url hooks: what Slack does with messages an app posts back to them."""

from __future__ import annotations

import secrets

from . import actions
from .state import JSON, Ephemeral, ResponseHook, SlackError
from .validation import check_message_blocks, check_message_text, with_ids
from .workspace import Workspace

HOOK_MAX_USES = 5
HOOK_TTL_SECONDS = 30 * 60


def new_hook(ws: Workspace, *, user: str, channel: str, kind: str, source_ts: str | None = None,
             source_ephemeral: bool = False, thread_ts: str | None = None) -> ResponseHook:
    """Create a response_url hook for a command or an interaction."""
    hook = ResponseHook(id=secrets.token_hex(12), user=user, channel=channel, kind=kind,
                        created=ws.clock(), source_ts=source_ts, source_ephemeral=source_ephemeral,
                        thread_ts=thread_ts)
    ws.hooks[hook.id] = hook
    return hook


def hook_url(ws: Workspace, hook: ResponseHook) -> str:
    """The public URL of a hook."""
    return f"{ws.public_url}/response/{ws.team_id}/{hook.id}"


def use_hook(ws: Workspace, hook_id: str) -> ResponseHook:
    """Count one use of a hook: at most 5 uses within 30 minutes."""
    hook = ws.hooks.get(hook_id)
    if hook is None:
        raise SlackError("no_active_hooks")
    if ws.clock() - hook.created > HOOK_TTL_SECONDS:
        raise SlackError("expired_url")
    if hook.uses >= HOOK_MAX_USES:
        raise SlackError("used_url")
    hook.uses += 1
    return hook


def _source_ephemeral(ws: Workspace, hook: ResponseHook) -> Ephemeral | None:
    mine = ws.ephemerals_for(hook.user, hook.channel)
    return next((e for e in mine if e.ts == hook.source_ts), None)


def apply_response(ws: Workspace, hook: ResponseHook, body: JSON, *, via: str = "response_url") -> JSON:
    """Apply a response body (ephemeral/in_channel/replace_original/delete_original) and record it."""
    text = body.get("text")
    blocks = with_ids(body.get("blocks"))
    attachments = body.get("attachments")
    text_str = text if isinstance(text, str) else ""
    rtype = body.get("response_type") or "ephemeral"
    record: JSON = {"via": via, "response_type": rtype, "text": text_str}
    if blocks is not None:
        record["blocks"] = blocks
    replace = bool(body.get("replace_original"))
    delete = bool(body.get("delete_original"))
    if not delete:
        if blocks is not None:
            check_message_blocks(blocks)
        check_message_text(text_str)
        if not text_str and not blocks and not attachments:
            raise SlackError("no_text")
    ch = ws.channels[hook.channel]
    bot = ws.bot_user
    source = ws.messages[ch.id].get(hook.source_ts) if hook.source_ts and not hook.source_ephemeral else None
    if delete and hook.source_ts:
        eph = _source_ephemeral(ws, hook)
        if eph is not None:
            eph.deleted = True
        elif source is not None:
            actions.delete_message(ws, source)
        record["action"] = "deleted"
    elif replace and hook.source_ts:
        eph = _source_ephemeral(ws, hook)
        if eph is not None:
            eph.text, eph.blocks, eph.attachments = text_str, blocks, attachments
        elif source is not None:
            # replace_original swaps the whole message: omitted blocks disappear.
            actions.update_message(ws, source, bot, text=text_str, blocks=blocks, attachments=attachments,
                                   replace=True)
        record["action"] = "replaced"
        record["ts"] = hook.source_ts
    elif rtype == "in_channel":
        thread_ts = body.get("thread_ts") or hook.thread_ts
        msg = actions.post_message(ws, ch, bot, text=text_str, blocks=blocks, attachments=attachments,
                                   thread_ts=thread_ts)
        record["action"] = "posted"
        record["ts"] = msg.ts
    else:
        eph = Ephemeral(ts=ws.next_ts(), channel=ch.id, user=hook.user, text=text_str, blocks=blocks,
                        attachments=attachments, thread_ts=hook.thread_ts, source=via)
        ws.ephemerals.append(eph)
        record["action"] = "ephemeral"
        record["ts"] = eph.ts
    hook.replies.append(record)
    return record
