"""JSON shapes of users, channels, messages, files and views as the Web API returns them."""

from __future__ import annotations

import mimetypes
import time

from .state import JSON, Channel, FileObj, Message, User, View
from .workspace import Workspace


def user_json(ws: Workspace, u: User) -> JSON:
    """A user object as in users.info."""
    profile: JSON = {
        "real_name": u.real_name,
        "real_name_normalized": u.real_name,
        "display_name": u.name,
        "display_name_normalized": u.name,
        "image_48": f"https://avatars.{ws.domain}.example.com/{u.id}_48.png",
        "team": ws.team_id,
    }
    if u.email:
        profile["email"] = u.email
    if u.is_bot:
        profile["bot_id"] = u.bot_id
        if u.id == ws.bot_user_id:
            profile["api_app_id"] = ws.app_id
    return {
        "id": u.id, "team_id": ws.team_id, "name": u.name, "deleted": u.deleted, "real_name": u.real_name,
        "tz": "Etc/UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0, "profile": profile,
        # Workspace roles (https://docs.slack.dev/reference/objects/user-object): the primary owner is also an owner,
        # and owners are admins, so users.info of the primary owner has all three flags true (observed).
        "is_admin": u.role in ("primary_owner", "owner", "admin"), "is_owner": u.role in ("primary_owner", "owner"),
        "is_primary_owner": u.role == "primary_owner",
        "is_restricted": u.role in ("guest", "single_channel_guest"),
        "is_ultra_restricted": u.role == "single_channel_guest", "is_bot": u.is_bot, "is_app_user": False,
        "updated": int(time.time()),
    }


def channel_json(ws: Workspace, ch: Channel, *, viewer: str | None = None, num_members: bool = False) -> JSON:
    """A conversation object as in conversations.info."""
    viewer = viewer or ws.bot_user_id
    if ch.is_im:
        return {"id": ch.id, "created": ch.created, "is_im": True, "is_org_shared": False,
                "user": ch.im_user, "is_user_deleted": False, "priority": 0}
    out: JSON = {
        "id": ch.id, "name": ch.name, "name_normalized": ch.name,
        "is_channel": not ch.is_private and not ch.is_mpim, "is_group": ch.is_private and not ch.is_mpim,
        "is_im": False, "is_mpim": ch.is_mpim, "is_private": ch.is_private, "created": ch.created,
        "creator": ch.creator, "is_archived": ch.is_archived, "is_general": ch.is_general, "unlinked": 0,
        "is_shared": False, "is_org_shared": False, "is_ext_shared": False, "is_pending_ext_shared": False,
        "pending_shared": [], "context_team_id": ws.team_id, "shared_team_ids": [ws.team_id],
        "parent_conversation": None, "updated": ch.created * 1000, "is_member": viewer in ch.members,
        "topic": {"value": ch.topic.value, "creator": ch.topic.creator, "last_set": ch.topic.last_set},
        "purpose": {"value": ch.purpose.value, "creator": ch.purpose.creator,
                    "last_set": ch.purpose.last_set},
        "previous_names": [],
    }
    if num_members:
        out["num_members"] = len(ch.members)
    return out


def bot_profile(ws: Workspace) -> JSON:
    """The `bot_profile` block attached to the app's messages."""
    bot = ws.bot_user
    return {"id": ws.bot_id, "deleted": False, "name": bot.real_name, "updated": 1700000000,
            "app_id": ws.app_id, "icons": {"image_48": f"https://avatars.{ws.domain}.example.com/bot_48.png"},
            "team_id": ws.team_id}


def guess_filetype(name: str) -> tuple[str, str]:
    """(mimetype, Slack filetype) for a file name."""
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in {"txt", "log"}:
        return mime, "text"
    return mime, ext or "binary"


def file_url(ws: Workspace, f: FileObj) -> str:
    """The `url_private` of a file (requires the bot token to download)."""
    return f"{ws.public_url}/files/{f.id}/{f.name}"


def file_json(ws: Workspace, f: FileObj) -> JSON:
    """A file object as in files.info."""
    public: JSON = {}
    private: JSON = {}
    ims: list[str] = []
    for cid, tss in f.shares.items():
        ch = ws.channels[cid]
        if ch.is_im:
            ims.append(cid)
            continue
        bucket = private if ch.is_private else public
        bucket[cid] = [{"ts": ts, "channel_name": ch.name, "team_id": ws.team_id, "share_user_id": f.user,
                        "reply_users": [], "reply_users_count": 0, "reply_count": 0} for ts in tss]
    shares: JSON = {}
    if public:
        shares["public"] = public
    if private:
        shares["private"] = private
    out: JSON = {
        "id": f.id, "created": f.created, "timestamp": f.created, "name": f.name, "title": f.title,
        "mimetype": f.mimetype, "filetype": f.filetype, "pretty_type": f.filetype.upper(), "user": f.user,
        "user_team": ws.team_id, "editable": False, "size": f.size, "mode": "hosted", "is_external": False,
        "external_type": "", "is_public": bool(public), "public_url_shared": False, "display_as_bot": False,
        "username": "", "url_private": file_url(ws, f),
        "url_private_download": file_url(ws, f) + "?download=1",
        "permalink": f"https://{ws.domain}.slack.com/files/{f.user}/{f.id}/{f.name}",
        "permalink_public": f"https://slack-files.com/{ws.team_id}-{f.id}-sandbox",
        "channels": list(public), "groups": list(private), "ims": ims, "shares": shares,
        "has_rich_preview": False, "file_access": "visible",
    }
    if f.alt_txt:
        out["alt_txt"] = f.alt_txt
    if f.is_external:
        # A remote file: url_private is the outside address itself, on any host, and there is no download URL
        # (https://docs.slack.dev/reference/methods/files.remote.info, its example response).
        out.update(mode="external", is_external=True, external_type=f.external_type, url_private=f.external_url,
                   external_url=f.external_url, size=0)
        out.pop("url_private_download")
        if f.external_id is not None:
            out["external_id"] = f.external_id
    return out


def message_json(ws: Workspace, msg: Message) -> JSON:
    """A message as conversations.history returns it."""
    out: JSON = {"type": "message", "ts": msg.ts, "text": msg.text}
    if msg.subtype:
        out["subtype"] = msg.subtype
    if msg.user:
        out["user"] = msg.user
    if msg.bot_id:
        out["bot_id"] = msg.bot_id
        out["app_id"] = msg.app_id
        out["bot_profile"] = bot_profile(ws)
    out["team"] = ws.team_id
    if msg.blocks is not None:
        out["blocks"] = msg.blocks
    if msg.attachments is not None:
        out["attachments"] = msg.attachments
    if msg.files:
        out["files"] = [file_json(ws, ws.files[fid]) for fid in msg.files if fid in ws.files]
        out["upload"] = False
        out["display_as_bot"] = False
    if msg.thread_ts:
        out["thread_ts"] = msg.thread_ts
        if msg.is_reply:
            parent = ws.messages[msg.channel].get(msg.thread_ts)
            out["parent_user_id"] = parent.user if parent else None
        else:
            replies = ws.replies_of(msg)
            users = list(dict.fromkeys(r.user for r in replies if r.user))
            out.update(reply_count=len(replies), reply_users_count=len(users), reply_users=users,
                       latest_reply=replies[-1].ts if replies else msg.ts, is_locked=False, subscribed=False)
    if msg.edited:
        out["edited"] = dict(msg.edited)
    if msg.pinned_to:
        out["pinned_to"] = list(msg.pinned_to)
    if msg.reactions:
        out["reactions"] = [{"name": n, "users": list(us), "count": len(us)}
                            for n, us in msg.reactions.items()]
    out.update(msg.extra)
    return out


def message_event(ws: Workspace, msg: Message) -> JSON:
    """A `message` event (Events API) for a stored message."""
    ch = ws.channels[msg.channel]
    body = message_json(ws, msg)
    for key in ("reply_count", "reply_users_count", "reply_users", "latest_reply", "is_locked",
                "subscribed", "pinned_to", "reactions"):
        body.pop(key, None)
    body.update(channel=msg.channel, event_ts=msg.ts, channel_type=ch.channel_type)
    return body


def view_json(ws: Workspace, view: View) -> JSON:
    """A view object as views.open/views.publish return it."""
    d = view.definition
    out: JSON = {
        "id": view.id, "team_id": ws.team_id, "type": view.type, "blocks": d.get("blocks", []),
        "private_metadata": d.get("private_metadata", ""), "callback_id": d.get("callback_id", ""),
        "state": {"values": view.state_values}, "hash": view.hash,
        "clear_on_close": bool(d.get("clear_on_close", False)),
        "notify_on_close": bool(d.get("notify_on_close", False)),
        "previous_view_id": view.previous_view_id, "root_view_id": view.root_view_id, "app_id": ws.app_id,
        "external_id": view.external_id or "", "app_installed_team_id": ws.team_id, "bot_id": ws.bot_id,
    }
    for key in ("title", "close", "submit"):
        out[key] = d.get(key)
    if view.type == "home":
        out["close"] = None
        out["submit"] = None
    return out
