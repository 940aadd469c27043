"""Web API methods: auth.*, conversations.*."""

from __future__ import annotations

import time

from . import actions
from .api_common import ApiContext, Handler, Params, paginate, ts_key
from .shapes import channel_json, message_json
from .state import JSON, Channel, SlackError


def auth_test(ctx: ApiContext, p: Params) -> JSON:
    """auth.test"""
    ws = ctx.ws
    # An org-wide token answers for its organization: team_id is the enterprise id and the URL the org's
    # (github.com/lobu-ai/lobu pull 3047: auth.test's team_id is an E… id on org-wide installs). A Grid
    # workspace's token names its enterprise too.
    host = f"{ws.domain}.enterprise" if ws.org_level else ws.domain
    answer: JSON = {"url": f"https://{host}.slack.com/", "team": ws.team_name, "user": ctx.bot.name,
                    "team_id": ws.team_id, "user_id": ws.bot_user_id, "bot_id": ws.bot_id,
                    "is_enterprise_install": ws.org_level}
    if ws.enterprise_id is not None:
        answer["enterprise_id"] = ws.enterprise_id
    return answer


# conversations.create documents names as "lowercase letters, numbers, hyphens, and underscores" of at most 80
# characters (https://docs.slack.dev/reference/methods/conversations.create, "name"). Slack's clients accept some
# non-Latin letters too, which the docs do not promise: the strict reading is ASCII only, so the Web API here refuses
# any other letter or digit with `invalid_name_specials`.
_API_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def conversations_create(ctx: ApiContext, p: Params) -> JSON:
    """conversations.create"""
    name = p.text("name") or ""
    if name and len(name) <= 80 and not set(name) <= _API_NAME_CHARS:
        raise SlackError("invalid_name_specials")
    ch = actions.create_channel(ctx.ws, name, ctx.bot, is_private=p.flag("is_private"))
    return {"channel": channel_json(ctx.ws, ch)}


def conversations_info(ctx: ApiContext, p: Params) -> JSON:
    """conversations.info"""
    ch = ctx.visible_channel(p.text("channel"))
    return {"channel": channel_json(ctx.ws, ch, num_members=p.flag("include_num_members"))}


def conversations_invite(ctx: ApiContext, p: Params) -> JSON:
    """conversations.invite"""
    ch = ctx.visible_channel(p.text("channel"))
    if ch.is_archived:
        raise SlackError("is_archived")
    if ctx.ws.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    refs = p.csv("users")
    if not refs:
        raise SlackError("no_user")
    errors: list[JSON] = []
    to_add = []
    for ref in refs:
        try:
            user = ctx.user(ref)
        except SlackError:
            errors.append({"user": ref, "ok": False, "error": "user_not_found"})
            continue
        if user.id == ctx.ws.bot_user_id:
            errors.append({"user": ref, "ok": False, "error": "cant_invite_self"})
        elif user.id in ch.members:
            errors.append({"user": user.id, "ok": False, "error": "already_in_channel"})
        elif user not in to_add:
            to_add.append(user)
    hard = [e for e in errors if e["error"] != "already_in_channel"]
    if hard and not p.flag("force"):
        raise SlackError(hard[0]["error"], errors=errors)
    if not to_add:
        raise SlackError(errors[0]["error"], errors=errors)
    for user in to_add:
        actions.join_channel(ctx.ws, ch, user, inviter=ctx.ws.bot_user_id)
    out: JSON = {"channel": channel_json(ctx.ws, ch)}
    if errors and p.flag("force"):
        out["errors"] = errors
    return out


def conversations_join(ctx: ApiContext, p: Params) -> JSON:
    """conversations.join"""
    ch = ctx.visible_channel(p.text("channel"))
    if ch.is_im or ch.is_mpim or ch.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if ch.is_archived:
        raise SlackError("is_archived")
    joined = actions.join_channel(ctx.ws, ch, ctx.bot)
    out: JSON = {"channel": channel_json(ctx.ws, ch)}
    if not joined:
        out["warning"] = "already_in_channel"
        out["response_metadata"] = {"warnings": ["already_in_channel"]}
    return out


def conversations_members(ctx: ApiContext, p: Params) -> JSON:
    """conversations.members"""
    ch = ctx.visible_channel(p.text("channel"))
    page, cursor = paginate(ch.members, p)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def _set_field(ctx: ApiContext, p: Params, field: str) -> JSON:
    ch = ctx.visible_channel(p.text("channel"))
    if ch.is_archived:
        raise SlackError("is_archived")
    if ctx.ws.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    value = p.text(field) or ""
    if len(value) > 250:
        raise SlackError("too_long")
    actions.set_topic(ctx.ws, ch, ctx.bot, value, field=field)
    return {"channel": channel_json(ctx.ws, ch)}


def conversations_set_topic(ctx: ApiContext, p: Params) -> JSON:
    """conversations.setTopic"""
    return _set_field(ctx, p, "topic")


def conversations_set_purpose(ctx: ApiContext, p: Params) -> JSON:
    """conversations.setPurpose"""
    return _set_field(ctx, p, "purpose")


def conversations_list(ctx: ApiContext, p: Params) -> JSON:
    """conversations.list"""
    types = set(p.csv("types") or ["public_channel"])
    bot = ctx.ws.bot_user_id

    def wanted(ch: Channel) -> bool:
        if p.flag("exclude_archived") and ch.is_archived:
            return False
        if ch.is_im:
            return "im" in types and bot in ch.members
        if ch.is_mpim:
            return "mpim" in types and bot in ch.members
        if ch.is_private:
            return "private_channel" in types and bot in ch.members
        return "public_channel" in types

    found = [ch for ch in ctx.ws.channels.values() if wanted(ch)]
    page, cursor = paginate(found, p)
    return {"channels": [channel_json(ctx.ws, ch, num_members=True) for ch in page],
            "response_metadata": {"next_cursor": cursor}}


def _readable(ctx: ApiContext, p: Params) -> Channel:
    # Bot tokens cannot read history of public channels they have not joined.
    return ctx.member_channel(p.text("channel"))


def _window(p: Params, items: list[JSON]) -> list[JSON]:
    oldest = ts_key(p.text("oldest") or "0")
    latest_ts = p.text("latest")
    latest = ts_key(latest_ts) if latest_ts else None
    inclusive = p.flag("inclusive")

    def keep(m: JSON) -> bool:
        key = ts_key(m["ts"])
        low_ok = key >= oldest if inclusive else key > oldest
        high_ok = latest is None or (key <= latest if inclusive else key < latest)
        return low_ok and high_ok

    return [m for m in items if keep(m)]


def conversations_history(ctx: ApiContext, p: Params) -> JSON:
    """conversations.history (newest first; thread replies only when broadcast)."""
    ch = _readable(ctx, p)
    ws = ctx.ws
    top = [message_json(ws, m) for m in ws.messages[ch.id].values()
           if not m.is_reply or m.subtype == "thread_broadcast"]
    top = _window(p, top)
    top.reverse()
    page, cursor = paginate(top, p)
    return {"messages": page, "has_more": bool(cursor), "pin_count": len(ws.pins.get(ch.id, {})),
            "channel_actions_ts": None, "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor}}


def conversations_replies(ctx: ApiContext, p: Params) -> JSON:
    """conversations.replies (parent first, then replies oldest first)."""
    ch = _readable(ctx, p)
    ws = ctx.ws
    ts = p.require("ts", "thread_not_found")
    msg = ws.messages[ch.id].get(ts)
    if msg is None:
        raise SlackError("thread_not_found")
    thread = [msg] if msg.is_reply else [msg, *ws.replies_of(msg)]
    items = _window(p, [message_json(ws, m) for m in thread]) if p.text("oldest") or p.text("latest") \
        else [message_json(ws, m) for m in thread]
    page, cursor = paginate(items, p, default_limit=1000)
    return {"messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}


def conversations_archive(ctx: ApiContext, p: Params) -> JSON:
    """conversations.archive"""
    ch = ctx.visible_channel(p.text("channel"))
    if ch.is_archived:
        raise SlackError("already_archived")
    if ch.is_general:
        raise SlackError("cant_archive_general")
    if ch.is_im or ch.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    if ctx.ws.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    actions.archive_channel(ctx.ws, ch, ctx.bot)
    return {}


def conversations_open(ctx: ApiContext, p: Params) -> JSON:
    """conversations.open (IM for one user, multi-person IM for several)."""
    ws = ctx.ws
    if p.text("channel"):
        ch = ctx.visible_channel(p.text("channel"))
        return {"channel": channel_json(ws, ch) if p.flag("return_im") else {"id": ch.id}}
    refs = p.csv("users")
    if not refs:
        raise SlackError("users_list_not_supplied")
    users = [ctx.user(r) for r in refs]
    if len(users) == 1:
        existed = any(c.is_im and c.im_user == users[0].id for c in ws.channels.values())
        im = ws.im_for(users[0].id)
        body = channel_json(ws, im) if p.flag("return_im") else {"id": im.id}
        return {"no_op": existed, "already_open": existed, "channel": body}
    members = {u.id for u in users} | {ws.bot_user_id}
    for ch in ws.channels.values():
        if ch.is_mpim and set(ch.members) == members:
            return {"channel": channel_json(ws, ch)}
    name = "mpdm-" + "--".join(sorted(ws.users[m].name for m in members)) + "-1"
    mpim = ws.add_channel(Channel(id=ws.new_id("G"), name=name, created=int(time.time()),
                                  creator=ws.bot_user_id, is_private=True, is_mpim=True,
                                  members=sorted(members)))
    return {"channel": channel_json(ws, mpim)}


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "conversations.create": conversations_create,
    "conversations.info": conversations_info,
    "conversations.invite": conversations_invite,
    "conversations.join": conversations_join,
    "conversations.members": conversations_members,
    "conversations.setTopic": conversations_set_topic,
    "conversations.setPurpose": conversations_set_purpose,
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.archive": conversations_archive,
    "conversations.open": conversations_open,
}
