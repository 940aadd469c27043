"""Web API methods: views.*, bookmarks.*."""

from __future__ import annotations

import time

from . import views
from .api_common import ApiContext, Handler, Params
from .shapes import view_json
from .state import JSON, Bookmark, SlackError
from .validation import check_view, with_ids


def _view_arg(p: Params, kind: str | None = "modal") -> JSON:
    view = dict(check_view(p.structured("view")))
    view["blocks"] = with_ids(view.get("blocks", []))
    if kind and view.get("type") != kind:
        problem = f"[ERROR] must be {kind} [json-pointer:/view/type]"
        raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
    return view


def views_open(ctx: ApiContext, p: Params) -> JSON:
    """views.open"""
    definition = _view_arg(p)
    trigger = views.consume_trigger(ctx.ws, p.text("trigger_id") or p.text("interactivity_pointer"),
                                    ctx.trigger_ttl)
    return {"view": view_json(ctx.ws, views.open_modal(ctx.ws, trigger.user, definition))}


def views_push(ctx: ApiContext, p: Params) -> JSON:
    """views.push"""
    definition = _view_arg(p)
    trigger = views.consume_trigger(ctx.ws, p.text("trigger_id") or p.text("interactivity_pointer"),
                                    ctx.trigger_ttl)
    return {"view": view_json(ctx.ws, views.push_modal(ctx.ws, trigger.user, definition))}


def views_update(ctx: ApiContext, p: Params) -> JSON:
    """views.update (optimistic locking through `hash`)."""
    view_id, external_id = p.text("view_id"), p.text("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments")
    view = views.find_view(ctx.ws, view_id, external_id)
    definition = _view_arg(p, view.type)
    expected = p.text("hash")
    if expected and expected != view.hash:
        raise SlackError("hash_conflict")
    return {"view": view_json(ctx.ws, views.replace_view(ctx.ws, view, definition))}


def views_publish(ctx: ApiContext, p: Params) -> JSON:
    """views.publish (App Home)."""
    user = ctx.user(p.text("user_id"))
    definition = _view_arg(p, "home")
    current = ctx.ws.home_views.get(user.id)
    expected = p.text("hash")
    if expected and current and ctx.ws.views[current].hash != expected:
        raise SlackError("hash_conflict")
    return {"view": view_json(ctx.ws, views.publish_home(ctx.ws, user.id, definition))}


def _bookmark_json(b: Bookmark, app_id: str, team_id: str) -> JSON:
    return {"id": b.id, "channel_id": b.channel_id, "title": b.title, "link": b.link, "emoji": b.emoji,
            "icon_url": None, "type": b.type, "entity_id": None, "date_created": b.created,
            "date_updated": 0, "rank": "U", "last_updated_by_user_id": b.updated_by,
            "last_updated_by_team_id": team_id, "shortcut_id": None, "app_id": app_id}


def bookmarks_add(ctx: ApiContext, p: Params) -> JSON:
    """bookmarks.add"""
    ch = ctx.writable_channel(p.text("channel_id"))
    title = p.text("title")
    kind = p.text("type") or ""
    if not title:
        raise SlackError("invalid_arguments")
    if kind not in ("link",):
        raise SlackError("invalid_bookmark_type")
    link = p.text("link")
    if not link or not link.startswith(("http://", "https://")):
        raise SlackError("invalid_link")
    b = Bookmark(id=ctx.ws.new_id("Bk"), channel_id=ch.id, title=title, type=kind, link=link,
                 emoji=p.text("emoji"), created=int(time.time()), updated_by=ctx.ws.bot_user_id)
    ctx.ws.bookmarks.setdefault(ch.id, []).append(b)
    return {"bookmark": _bookmark_json(b, ctx.ws.app_id, ctx.ws.team_id)}


def bookmarks_list(ctx: ApiContext, p: Params) -> JSON:
    """bookmarks.list"""
    ch = ctx.visible_channel(p.text("channel_id"))
    return {"bookmarks": [_bookmark_json(b, ctx.ws.app_id, ctx.ws.team_id)
                          for b in ctx.ws.bookmarks.get(ch.id, [])]}


def bookmarks_remove(ctx: ApiContext, p: Params) -> JSON:
    """bookmarks.remove"""
    ch = ctx.writable_channel(p.text("channel_id"))
    marks = ctx.ws.bookmarks.get(ch.id, [])
    found = next((b for b in marks if b.id == p.text("bookmark_id")), None)
    if found is None:
        raise SlackError("not_found")
    marks.remove(found)
    return {}


HANDLERS: dict[str, Handler] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "bookmarks.add": bookmarks_add,
    "bookmarks.list": bookmarks_list,
    "bookmarks.remove": bookmarks_remove,
}
