"""Slash commands, clicks and modal submissions sent to the app as signed form posts."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import payloads, responses, views
from .events import HttpResult, post_signed
from .results import CommandResult
from .shapes import message_json, view_json
from .state import JSON, Channel, SlackError, User
from .validation import check_view, with_ids
from .workspace import Workspace

if TYPE_CHECKING:
    from .emulator import SlackEmulator

log = logging.getLogger(__name__)
# Interactions must be acknowledged within 3 seconds; later, Slack shows the person an error and keeps the modal
# open (https://api.slack.com/interactivity/handling#acknowledgment_response).
ACK_DEADLINE = 3.0


@dataclass
class LateAck:
    """An interaction the app did not acknowledge in time: the person saw Slack's connection error."""

    kind: str
    user: str
    view_id: str | None
    seconds: float
    status: int | None


async def send_form(emu: SlackEmulator, ws: Workspace, form: dict[str, str], timeout: float) -> HttpResult:
    """POST a signed form body to the app's request URL, on behalf of a workspace."""
    if emu.events_url is None or emu.bus.session is None:
        raise RuntimeError("the emulator has no events_url (or is not started)")
    if not ws.installed:
        raise SlackError("app_not_installed")
    emu.activity.begin()
    try:
        return await post_signed(emu.bus.session, emu.events_url, urlencode(form).encode(),
                                 secret=emu.signing_secret, content_type="application/x-www-form-urlencoded",
                                 timeout=timeout)
    finally:
        emu.activity.end()


def parse_body(text: str) -> Any:
    """An ack body: parsed JSON, raw text, or None when empty."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _channel_name(ch: Channel) -> str:
    if ch.is_im:
        return "directmessage"
    if ch.is_private and not ch.is_mpim:
        return "privategroup"
    return ch.name


async def slash_command(emu: SlackEmulator, ws: Workspace, user: User, ch: Channel, text: str, *, command: str,
                        timeout: float) -> CommandResult:
    """Run a slash command as Slack does and apply the ack body like Slack shows it."""
    since = ws.next_ts()
    trigger_id = views.issue_trigger(ws, user.id)
    hook = responses.new_hook(ws, user=user.id, channel=ch.id, kind="command")
    url = responses.hook_url(ws, hook)
    form = {"token": emu.bus.verification_token, "team_id": ws.team_id, "team_domain": ws.domain,
            "channel_id": ch.id, "channel_name": _channel_name(ch), "user_id": user.id,
            "user_name": user.name,
            "command": command, "text": text, "api_app_id": ws.app_id,
            "response_url": url, "trigger_id": trigger_id, **payloads.grid_form(ws)}
    result = await send_form(emu, ws, form, timeout)
    body = parse_body(result.text)
    out = CommandResult(status=result.status, ack_body=body, ack_seconds=result.seconds,
                        trigger_id=trigger_id, response_url=url, channel_id=ch.id, user_id=user.id,
                        timed_out=result.reason == "http_timeout", hook_id=hook.id, since_ts=since,
                        emulator=emu, ws=ws)
    if result.status == 200 and body is not None:
        reply = body if isinstance(body, dict) else {"text": str(body)}
        try:
            responses.apply_response(ws, hook, reply, via="ack")
        except SlackError as err:
            out.ack_error = err.error
    return out


async def click(emu: SlackEmulator, ws: Workspace, user: User, *, action_id: str, channel: Channel | None = None,
                message_ts: str | None = None, view_id: str | None = None, block_id: str | None = None,
                value: Any = None, timeout: float = 3.0) -> int | None:
    """Click a button or pick from a menu in a message, modal or App Home; returns the ack status."""
    trigger_id = views.issue_trigger(ws, user.id)
    extra: JSON = {}
    if view_id is not None:
        view = views.find_view(ws, view_id)
        if view.user != user.id:
            raise SlackError("not_found")
        blocks = view.definition.get("blocks", [])
        bid, el = payloads.find_element(blocks, action_id, block_id=block_id, value=value)
        action = payloads.action_payload(ws, el, bid, value)
        if el.get("type") != "button":
            view.state_values.setdefault(bid, {})[action_id] = payloads.element_value(ws, el, value)
        container: JSON = {"type": "view", "view_id": view.id}
        extra["view"] = view_json(ws, view)
        state = view.state_values
    else:
        if channel is None or message_ts is None:
            raise ValueError("click needs channel+message_ts, or view_id")
        msg = ws.messages[channel.id].get(message_ts)
        eph = next((e for e in ws.ephemerals_for(user.id, channel.id) if e.ts == message_ts), None)
        if msg is None and eph is None:
            raise SlackError("message_not_found")
        blocks = (msg.blocks if msg is not None else eph.blocks if eph is not None else None) or []
        bid, el = payloads.find_element(blocks, action_id, block_id=block_id, value=value)
        action = payloads.action_payload(ws, el, bid, value)
        state = {} if el.get("type") == "button" else {
            bid: {action_id: payloads.element_value(ws, el, value)}}
        thread_ts = msg.thread_ts if msg is not None else eph.thread_ts if eph is not None else None
        hook = responses.new_hook(ws, user=user.id, channel=channel.id, kind="action", source_ts=message_ts,
                                  source_ephemeral=msg is None, thread_ts=thread_ts)
        container = {"type": "message", "message_ts": message_ts, "channel_id": channel.id,
                     "is_ephemeral": msg is None}
        extra["channel"] = {"id": channel.id, "name": _channel_name(channel)}
        # Ephemeral messages are not echoed back in the payload.
        if msg is not None:
            extra["message"] = message_json(ws, msg)
        extra["response_url"] = responses.hook_url(ws, hook)
    payload = payloads.block_actions(ws, user, actions=[action], trigger_id=trigger_id, container=container,
                                     state=state, token=emu.bus.verification_token, **extra)
    result = await send_form(emu, ws, {"payload": json.dumps(payload)}, timeout)
    return result.status


def _apply_response_action(ws: Workspace, user: User, body: Any) -> None:
    action = body.get("response_action") if isinstance(body, dict) else None
    if action is None:
        views.close_top(ws, user.id)
    elif action == "clear":
        views.close_all(ws, user.id)
    elif action in ("update", "push"):
        definition = dict(check_view(body.get("view")))
        definition["blocks"] = with_ids(definition.get("blocks", []))
        if action == "push":
            views.push_modal(ws, user.id, definition)
        else:
            top = views.open_modals(ws, user.id)[-1]
            views.replace_view(ws, top, definition)
    elif action != "errors":
        raise SlackError("invalid_response_action", response_action=action)


async def submit_view(emu: SlackEmulator, ws: Workspace, user: User, view_id: str, values: dict[str, Any], *,
                      timeout: float) -> tuple[int | None, Any]:
    """Submit the user's topmost modal; applies the app's response_action like Slack."""
    stack = views.open_modals(ws, user.id)
    if not stack or stack[-1].id != view_id:
        raise SlackError("not_found", detail="only the topmost open modal of this user can be submitted")
    view = stack[-1]
    view.state_values = payloads.view_state(ws, view.definition.get("blocks", []), values, view.state_values)
    payload = payloads.view_submission(ws, user, view_json(ws, view),
                                       trigger_id=views.issue_trigger(ws, user.id),
                                       token=emu.bus.verification_token)
    result = await send_form(emu, ws, {"payload": json.dumps(payload)}, timeout)
    body = parse_body(result.text)
    if result.reason == "http_timeout" or result.seconds > ACK_DEADLINE:
        emu.late_acks.append(LateAck("view_submission", user.id, view_id, result.seconds, result.status))
        log.warning("view_submission acknowledged after %.2fs: the person sees an error", result.seconds)
        return None, None
    if result.status == 200:
        _apply_response_action(ws, user, body)
    else:
        log.warning("view_submission answered %s: modal stays open with an error", result.status)
    return result.status, body


async def close_view(emu: SlackEmulator, ws: Workspace, user: User, *, timeout: float) -> int | None:
    """Close the topmost modal; sends view_closed only if the view set notify_on_close."""
    view = views.close_top(ws, user.id)
    if view is None or not view.definition.get("notify_on_close"):
        return None
    payload = payloads.view_closed(ws, user, view_json(ws, view), is_cleared=False,
                                   token=emu.bus.verification_token)
    return (await send_form(emu, ws, {"payload": json.dumps(payload)}, timeout)).status
