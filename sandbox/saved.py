"""The sandbox's Slack kept on disk, so a session can be resumed where it stopped (`retro sandbox` keeps it beside
its database): people, channels, messages, files and their bytes, pins, bookmarks, published Homes, and where ids,
timestamps and event ids carry on from.

What Slack itself forgets when a client reloads is not kept: ephemeral messages, open modals, trigger ids and
response_urls.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .emulator import SlackEmulator
from .state import JSON, Bookmark, Channel, FileObj, Message, Pin, TopicInfo, User, View

FORMAT = 1
STATE_FILE = "workspace.json"
FILES_DIR = "files"


class SavedStateError(Exception):
    """A saved workspace that cannot be resumed; the message says why in one line."""


def _write(path: Path, data: bytes) -> None:
    """Replace a file atomically (a crash leaves the old one or the new one, never half of either)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_record(f: FileObj) -> JSON:
    record = asdict(f)
    record.pop("content")
    return record


def save(emulator: SlackEmulator, folder: Path) -> None:
    """Write the default workspace into `folder` (file bytes once each, the rest as one JSON document)."""
    ws = emulator.workspace
    blobs = folder / FILES_DIR
    blobs.mkdir(parents=True, exist_ok=True)
    for f in ws.files.values():
        if f.content is not None and not (blobs / f.id).exists():
            _write(blobs / f.id, f.content)
    homes = {view_id for view_id in ws.home_views.values() if view_id in ws.views}
    state: JSON = {
        "format": FORMAT, "team_id": ws.team_id,
        "carry_on": {"ids_issued": ws.ids_issued, "last_micros": ws.last_micros,
                     "events_sent": emulator.bus.events_sent},
        "users": [asdict(u) for u in ws.users.values()],
        "channels": [asdict(c) for c in ws.channels.values()],
        "messages": [asdict(m) for msgs in ws.messages.values() for m in msgs.values()],
        "files": [_file_record(f) for f in ws.files.values()],
        "homes": [asdict(ws.views[v]) for v in sorted(homes)],
        "home_views": {user: view for user, view in ws.home_views.items() if view in homes},
        "bookmarks": [asdict(b) for marks in ws.bookmarks.values() for b in marks],
        "pins": [asdict(p) for pins in ws.pins.values() for p in pins.values()],
    }
    _write(folder / STATE_FILE, json.dumps(state, separators=(",", ":")).encode())


def _channel(record: dict[str, Any]) -> Channel:
    topic, purpose = record.pop("topic"), record.pop("purpose")
    return Channel(**record, topic=TopicInfo(**topic), purpose=TopicInfo(**purpose))


def load(emulator: SlackEmulator, folder: Path) -> None:
    """Replace the default workspace's content with what `save` wrote into `folder`."""
    path = folder / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise SavedStateError(f"{path} is not a saved sandbox workspace this version reads")
        ws = emulator.workspace
        if state["team_id"] != ws.team_id:
            raise SavedStateError(f"{path} holds workspace {state['team_id']}, not {ws.team_id}")
        users = [User(**u) for u in state["users"]]
        channels = [_channel(c) for c in state["channels"]]
        messages = [Message(**m) for m in state["messages"]]
        files = [FileObj(**f) for f in state["files"]]
        homes = [View(**v) for v in state["homes"]]
        bookmarks = [Bookmark(**b) for b in state["bookmarks"]]
        pins = [Pin(**p) for p in state["pins"]]
        carry_on = {k: int(state["carry_on"][k]) for k in ("ids_issued", "last_micros", "events_sent")}
        home_views = {str(k): str(v) for k, v in state["home_views"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SavedStateError(f"cannot read the saved sandbox workspace {path}: {exc}") from None
    ws.users = {u.id: u for u in users}
    ws.channels = {c.id: c for c in channels}
    ws.messages = {c.id: {} for c in channels}
    for m in messages:
        ws.messages.setdefault(m.channel, {})[m.ts] = m
    for f in files:
        blob = folder / FILES_DIR / f.id
        f.content = blob.read_bytes() if blob.is_file() else None
    ws.files = {f.id: f for f in files}
    ws.views = {v.id: v for v in homes}
    ws.home_views = home_views
    ws.modal_stacks, ws.ephemerals, ws.triggers, ws.hooks = {}, [], {}, {}
    ws.bookmarks = {}
    for b in bookmarks:
        ws.bookmarks.setdefault(b.channel_id, []).append(b)
    ws.pins = {}
    for p in pins:
        ws.pins.setdefault(p.channel, {})[p.ts] = p
    ws.ids_issued, ws.last_micros = carry_on["ids_issued"], carry_on["last_micros"]
    emulator.bus.events_sent = carry_on["events_sent"]
