"""Web API methods: users.*."""

from __future__ import annotations

import time

from .api_common import ApiContext, Handler, Params, paginate
from .shapes import channel_json, user_json
from .state import JSON, Channel, SlackError, User

# users.conversations needs the read scope of every conversation type it is asked to list
# (https://docs.slack.dev/reference/methods/users.conversations, "Required scopes").
TYPE_SCOPES = {"public_channel": "channels:read", "private_channel": "groups:read", "mpim": "mpim:read",
               "im": "im:read"}
# "Must be an integer with a max value of 999" (same page); the default is 100.
CONVERSATIONS_LIMIT = 999


def users_info(ctx: ApiContext, p: Params) -> JSON:
    """users.info"""
    return {"user": user_json(ctx.ws, ctx.user(p.text("user")))}


def users_list(ctx: ApiContext, p: Params) -> JSON:
    """users.list"""
    page, cursor = paginate(list(ctx.ws.users.values()), p, default_limit=200)
    return {"members": [user_json(ctx.ws, u) for u in page], "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": cursor}}


def users_lookup_by_email(ctx: ApiContext, p: Params) -> JSON:
    """users.lookupByEmail"""
    email = p.require("email", "users_not_found").lower()
    for u in ctx.ws.users.values():
        if u.email and u.email.lower() == email:
            return {"user": user_json(ctx.ws, u)}
    raise SlackError("users_not_found")


def _type_of(ch: Channel) -> str:
    if ch.is_im:
        return "im"
    if ch.is_mpim:
        return "mpim"
    return "private_channel" if ch.is_private else "public_channel"


def _limit(p: Params) -> int:
    raw = p.text("limit")
    if raw is None or raw == "":
        return 100
    try:
        wanted = int(raw)
    except ValueError:
        raise SlackError("invalid_limit") from None
    return 100 if wanted <= 0 else min(wanted, CONVERSATIONS_LIMIT)


def _listed(ctx: ApiContext, ch: Channel, who: User, types: set[str], exclude_archived: bool) -> bool:
    if _type_of(ch) not in types or who.id not in ch.members or (exclude_archived and ch.is_archived):
        return False
    # "Non-public channels are restricted to those where the calling user shares membership": a bot token sees
    # someone's private channels, group DMs and DMs only where the bot is a member too.
    return _type_of(ch) == "public_channel" or ctx.ws.bot_user_id in ch.members


def users_conversations(ctx: ApiContext, p: Params) -> JSON:
    """users.conversations: the conversations someone is in (the caller by default), as the caller may see them."""
    types = p.csv("types") or ["public_channel"]
    if any(t not in TYPE_SCOPES for t in types):
        raise SlackError("invalid_types")
    ctx.require_scopes(TYPE_SCOPES[t] for t in types)
    who = ctx.user(p.text("user")) if p.text("user") else ctx.bot
    # Slack cuts the page before it filters: "Fewer than the requested number of items may be returned, even if
    # the end of the list hasn't been reached" (same page), so a page may even be empty while next_cursor is set.
    window, cursor = paginate(list(ctx.ws.channels.values()), Params({**p.data, "limit": _limit(p)}))
    wanted, exclude_archived = set(types), p.flag("exclude_archived")
    channels = []
    for ch in window:
        if _listed(ctx, ch, who, wanted, exclude_archived):
            shape = channel_json(ctx.ws, ch, viewer=who.id)
            shape.pop("is_member", None)  # not part of this method's channel objects
            channels.append(shape)
    return {"channels": channels, "response_metadata": {"next_cursor": cursor}}


HANDLERS: dict[str, Handler] = {
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "users.conversations": users_conversations,
}
