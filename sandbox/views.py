"""Modal stacks, App Home views and trigger ids."""

from __future__ import annotations

import secrets
import time

from .state import JSON, SlackError, Trigger, View
from .workspace import Workspace

MAX_MODAL_STACK = 3


def new_hash() -> str:
    """A fresh view hash (Slack's format: `<epoch>.<random>`)."""
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def issue_trigger(ws: Workspace, user_id: str) -> str:
    """Issue a trigger_id for an interaction by a user."""
    trigger_id = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
    ws.triggers[trigger_id] = Trigger(trigger_id, user_id, ws.clock())
    return trigger_id


def consume_trigger(ws: Workspace, trigger_id: str | None, ttl: float) -> Trigger:
    """Exchange a trigger_id: each is valid once, for `ttl` seconds."""
    trigger = ws.triggers.get(trigger_id or "")
    if trigger is None:
        raise SlackError("invalid_trigger_id")
    if ws.clock() - trigger.issued > ttl:
        raise SlackError("expired_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    trigger.used = True
    return trigger


def _check_external_id(ws: Workspace, definition: JSON, keep: str | None = None) -> str | None:
    external_id = definition.get("external_id") or None
    if external_id and any(v.external_id == external_id and v.id != keep and not v.closed
                           for v in ws.views.values()):
        raise SlackError("duplicate_external_id")
    return external_id


def _create(ws: Workspace, user_id: str, kind: str, definition: JSON, *, root: str | None = None,
            previous: str | None = None) -> View:
    view_id = ws.new_id("V")
    view = View(id=view_id, user=user_id, type=kind, definition=definition, hash=new_hash(),
                root_view_id=root or view_id, previous_view_id=previous,
                external_id=_check_external_id(ws, definition))
    ws.views[view_id] = view
    return view


def open_modal(ws: Workspace, user_id: str, definition: JSON) -> View:
    """Open a modal as the root of a new stack (replacing whatever the user had open)."""
    close_all(ws, user_id)
    view = _create(ws, user_id, "modal", definition)
    ws.modal_stacks[user_id] = [view.id]
    return view


def push_modal(ws: Workspace, user_id: str, definition: JSON) -> View:
    """Push a modal onto the user's open stack (at most 3 deep)."""
    stack = ws.modal_stacks.get(user_id) or []
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= MAX_MODAL_STACK:
        raise SlackError("push_limit_reached")
    view = _create(ws, user_id, "modal", definition, root=stack[0], previous=stack[-1])
    stack.append(view.id)
    return view


def find_view(ws: Workspace, view_id: str | None = None, external_id: str | None = None) -> View:
    """A live view by id or external_id, else `not_found`."""
    for view in ws.views.values():
        if view.closed:
            continue
        if (view_id and view.id == view_id) or (external_id and view.external_id == external_id):
            return view
    raise SlackError("not_found")


def replace_view(ws: Workspace, view: View, definition: JSON) -> View:
    """Replace a view's content (keeping input state of blocks that survive) with a new hash."""
    view.external_id = _check_external_id(ws, definition, keep=view.id) or view.external_id
    view.definition = definition
    view.hash = new_hash()
    kept = {b.get("block_id") for b in definition.get("blocks", []) if isinstance(b, dict)}
    view.state_values = {k: v for k, v in view.state_values.items() if k in kept}
    return view


def publish_home(ws: Workspace, user_id: str, definition: JSON) -> View:
    """Publish (or republish) a user's App Home view."""
    existing = ws.home_views.get(user_id)
    if existing:
        return replace_view(ws, ws.views[existing], definition)
    view = _create(ws, user_id, "home", definition)
    ws.home_views[user_id] = view.id
    return view


def close_top(ws: Workspace, user_id: str) -> View | None:
    """Close the topmost modal of a user's stack."""
    stack = ws.modal_stacks.get(user_id) or []
    if not stack:
        return None
    view = ws.views[stack.pop()]
    view.closed = True
    return view


def close_all(ws: Workspace, user_id: str) -> None:
    """Close every modal a user has open."""
    while close_top(ws, user_id) is not None:
        pass


def open_modals(ws: Workspace, user_id: str) -> list[View]:
    """The user's modal stack, bottom first."""
    return [ws.views[v] for v in ws.modal_stacks.get(user_id, [])]
