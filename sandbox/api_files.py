"""Web API methods for the external upload flow (files_upload_v2) and files.info."""

from __future__ import annotations

import time

from . import actions
from .api_common import ApiContext, Handler, Params
from .shapes import file_json, guess_filetype
from .state import JSON, FileObj, SlackError
from .workspace import Workspace

MAX_FILE_BYTES = 1024 * 1024 * 1024


def new_file(ws: Workspace, user_id: str, name: str, *, size: int = 0, title: str | None = None,
             alt_txt: str | None = None) -> FileObj:
    """Register a file record (content arrives separately)."""
    mime, filetype = guess_filetype(name)
    f = FileObj(id=ws.new_id("F"), name=name, title=title or name, user=user_id, created=int(time.time()),
                size=size, mimetype=mime, filetype=filetype, alt_txt=alt_txt)
    ws.files[f.id] = f
    return f


def new_external_file(ws: Workspace, user_id: str, title: str, url: str, *, external_type: str = "gdrive",
                      mimetype: str = "application/vnd.slack-remote", filetype: str = "remote",
                      external_id: str | None = None) -> FileObj:
    """Register a remote file: Slack keeps only its address (any host) and metadata, never its bytes."""
    f = FileObj(id=ws.new_id("F"), name=title, title=title, user=user_id, created=int(time.time()), size=0,
                mimetype=mimetype, filetype=filetype, external_url=url, external_type=external_type,
                external_id=external_id)
    ws.files[f.id] = f
    return f


def store_upload(ws: Workspace, file_id: str, data: bytes) -> bool:
    """Save bytes posted to an upload URL; False if the URL is unknown or already used."""
    f = ws.files.get(file_id)
    if f is None or f.completed or f.content is not None or f.is_external:
        return False
    f.content = data
    f.size = len(data)
    return True


def files_get_upload_url_external(ctx: ApiContext, p: Params) -> JSON:
    """files.getUploadURLExternal"""
    filename = p.require("filename")
    length = p.integer("length", -1)
    if length <= 0 or length > MAX_FILE_BYTES:
        raise SlackError("invalid_arguments")
    f = new_file(ctx.ws, ctx.ws.bot_user_id, filename, size=length, alt_txt=p.text("alt_txt"))
    return {"upload_url": f"{ctx.ws.public_url}/upload/v1/{f.id}", "file_id": f.id}


def files_complete_upload_external(ctx: ApiContext, p: Params) -> JSON:
    """files.completeUploadExternal (shares into channel_id/channels when given)."""
    items = p.structured("files")
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    files: list[FileObj] = []
    for item in items:
        f = ctx.ws.files.get(str(item.get("id"))) if isinstance(item, dict) else None
        if f is None or f.content is None or f.completed:
            raise SlackError("file_not_found")
        if item.get("title"):
            f.title = str(item["title"])
        files.append(f)
    targets = [p.text("channel_id")] if p.text("channel_id") else p.csv("channels")
    channels = [ctx.writable_channel(ref) for ref in targets]
    for f in files:
        f.completed = True
    comment = p.text("initial_comment") or ""
    for ch in channels:
        actions.share_files(ctx.ws, ch, ctx.bot, files, text=comment, thread_ts=p.text("thread_ts") or None)
    return {"files": [{"id": f.id, "title": f.title} for f in files]}


def files_info(ctx: ApiContext, p: Params) -> JSON:
    """files.info"""
    f = ctx.ws.files.get(p.text("file") or "")
    if f is None or not f.completed:
        raise SlackError("file_not_found")
    return {"file": file_json(ctx.ws, f), "comments": [], "response_metadata": {"next_cursor": ""}}


HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.info": files_info,
}
