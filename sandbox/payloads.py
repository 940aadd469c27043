"""Interaction payloads exactly as Slack sends them: block_actions, view_submission, view_closed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .state import JSON, SlackError, User
from .validation import MAX_TEXT_INPUT
from .workspace import Workspace

_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}


def team_ref(ws: Workspace) -> JSON:
    """The `team` object of interaction payloads; a Grid workspace names its enterprise too."""
    # https://docs.slack.dev/reference/interaction-payloads/view-interactions-payload: on Enterprise Grid,
    # `team.enterprise_id` is set and `enterprise` is {"id", "name"} (null outside Grid).
    team: JSON = {"id": ws.team_id, "domain": ws.domain}
    if ws.enterprise_id is not None:
        team["enterprise_id"] = ws.enterprise_id
    return team


def enterprise_ref(ws: Workspace) -> JSON | None:
    """The `enterprise` object of interaction payloads: null outside Enterprise Grid."""
    return None if ws.enterprise_id is None else {"id": ws.enterprise_id, "name": ws.enterprise_name}


def grid_form(ws: Workspace) -> dict[str, str]:
    """The Grid fields of a slash command's form: `is_enterprise_install` always; `enterprise_id` and
    `enterprise_name` only on Grid."""
    # https://docs.slack.dev/interactivity/implementing-slash-commands ("enterprise_id", "enterprise_name":
    # sent when the command runs in a workspace of an Enterprise Grid organization; "is_enterprise_install": "true"
    # when the app is installed org-wide).
    flag = {"is_enterprise_install": "true" if ws.org_install else "false"}
    if ws.enterprise_id is None:
        return flag
    return {**flag, "enterprise_id": ws.enterprise_id, "enterprise_name": ws.enterprise_name or ""}


def view_team(ws: Workspace) -> JSON | None:
    """The `team` of view_submission / view_closed: null when the app is installed org-wide."""
    # slack_bolt request/internals.py (extract_team_id): "With org-wide installations, payload.team in
    # interactivity payloads can be None"; the workspace is still in user.team_id and view.team_id.
    return None if ws.org_install else team_ref(ws)


def user_ref(ws: Workspace, user: User) -> JSON:
    """The `user` object of interaction payloads."""
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def _interactive_elements(blocks: list[JSON]) -> Iterator[tuple[str, JSON]]:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        block_id = str(block.get("block_id", ""))
        if block.get("type") == "actions":
            for el in block.get("elements") or []:
                yield block_id, el
        for key in ("accessory", "element"):
            el = block.get(key)
            if isinstance(el, dict):
                yield block_id, el


def find_element(blocks: list[JSON] | None, action_id: str, *, block_id: str | None = None,
                 value: str | None = None) -> tuple[str, JSON]:
    """Locate an interactive element; buttons sharing an action_id are told apart by value."""
    matches = [(bid, el) for bid, el in _interactive_elements(blocks or [])
               if el.get("action_id") == action_id and (block_id is None or bid == block_id)]
    if value is not None and len(matches) > 1:
        matches = [(bid, el) for bid, el in matches if el.get("type") != "button" or el.get("value") == value]
    if not matches:
        raise LookupError(f"no element with action_id={action_id!r} (block_id={block_id!r})")
    return matches[0]


def _option(el: JSON, value: str) -> JSON:
    for opt in el.get("options") or []:
        if opt.get("value") == value:
            return dict(opt)
    for group in el.get("option_groups") or []:
        for opt in group.get("options") or []:
            if opt.get("value") == value:
                return dict(opt)
    raise LookupError(f"option {value!r} not offered by {el.get('action_id')!r}")


def _as_list(raw: Any) -> list[str]:
    if isinstance(raw, (list, tuple)):
        return [str(r) for r in raw]
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def element_value(ws: Workspace, el: JSON, raw: Any) -> JSON:
    """The state value Slack reports for an element given what the user picked (None = nothing)."""
    kind = str(el.get("type"))
    out: JSON = {"type": kind}
    if isinstance(raw, dict) and "type" in raw:
        return dict(raw)
    if kind in _TEXT_INPUTS:
        out["value"] = None if raw is None or raw == "" else str(raw)
        return out
    if kind == "users_select":
        out["selected_user"] = None if raw is None else ws.user(str(raw)).id
    elif kind == "multi_users_select":
        out["selected_users"] = [] if raw is None else [ws.user(r).id for r in _as_list(raw)]
    elif kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        out[key] = None if raw is None else ws.channel(str(raw)).id
    elif kind in ("static_select", "radio_buttons", "overflow", "external_select"):
        out["selected_option"] = None if raw is None else _option(el, str(raw))
    elif kind in ("multi_static_select", "checkboxes"):
        out["selected_options"] = [] if raw is None else [_option(el, r) for r in _as_list(raw)]
    elif kind == "datepicker":
        out["selected_date"] = raw
    elif kind == "timepicker":
        out["selected_time"] = raw
    elif kind == "datetimepicker":
        out["selected_date_time"] = _epoch(raw)
    elif kind == "rich_text_input":
        text = "" if raw is None else str(raw)
        out["rich_text_value"] = {"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}
    else:
        out["value"] = raw
    return out


def _epoch(raw: Any) -> int | None:
    """A datetimepicker's pick as Slack reports it: Unix seconds (ISO text and numbers accepted)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float):
        return int(raw)
    text = str(raw)
    if text.lstrip("-").isdigit():
        return int(text)
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp())


def initial_raw(el: JSON) -> Any:
    """What an element shows before the user touches it."""
    for key in ("initial_value", "initial_user", "initial_conversation", "initial_channel", "initial_date",
                "initial_time", "initial_date_time"):
        if key in el:
            return el[key]
    if "initial_option" in el:
        return el["initial_option"].get("value")
    if "initial_users" in el:
        return el["initial_users"]
    if "initial_options" in el:
        return [o.get("value") for o in el["initial_options"]]
    return None


def is_empty(value: JSON) -> bool:
    """Whether a state value carries nothing."""
    picked = [v for k, v in value.items() if k != "type"]
    return all(v in (None, "", []) for v in picked)


def action_payload(ws: Workspace, el: JSON, block_id: str, raw: Any) -> JSON:
    """One entry of `actions` for a click/selection on an element."""
    action: JSON = {"action_id": el.get("action_id"), "block_id": block_id, "type": el.get("type"),
                    "action_ts": f"{time.time():.6f}"}
    if el.get("type") == "button":
        action["text"] = el.get("text")
        if "value" in el:
            action["value"] = el["value"]
        if "style" in el:
            action["style"] = el["style"]
        return action
    value = element_value(ws, el, raw)
    value.pop("type", None)
    action.update(value)
    if "placeholder" in el:
        action["placeholder"] = el["placeholder"]
    return action


def view_state(ws: Workspace, blocks: list[JSON], given: dict[str, Any], current: JSON) -> JSON:
    """Slack's `view.state.values` for a submission, checking required inputs like the client does."""
    values: JSON = {bid: dict(v) for bid, v in current.items()}
    missing: list[str] = []
    too_long: list[str] = []
    too_short: list[str] = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        bid = str(block.get("block_id"))
        el = block.get("element") or {}
        aid = str(el.get("action_id"))
        raw = given.get(bid)
        if isinstance(raw, dict) and "type" not in raw:
            raw = raw.get(aid, next(iter(raw.values()), None) if raw else None)
        if bid in given:
            value = element_value(ws, el, raw)
        elif bid in values and aid in values[bid]:
            value = values[bid][aid]
        else:
            value = element_value(ws, el, initial_raw(el))
        if is_empty(value) and not block.get("optional"):
            missing.append(bid)
        typed = value.get("value") if el.get("type") == "plain_text_input" else None
        # The client refuses text beyond max_length (3,000 at most) or short of min_length, and does not submit
        # (docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element).
        if isinstance(typed, str) and len(typed) > int(el.get("max_length") or MAX_TEXT_INPUT):
            too_long.append(bid)
        elif isinstance(typed, str) and len(typed) < int(el.get("min_length") or 0):
            too_short.append(bid)
        values[bid] = {aid: value}
    if missing:
        raise SlackError("required_fields_missing", fields=missing)
    if too_long or too_short:
        raise SlackError("input_too_long" if too_long else "input_too_short", fields=too_long or too_short)
    return values


def block_actions(ws: Workspace, user: User, *, actions: list[JSON], trigger_id: str, container: JSON,
                  channel: JSON | None = None, message: JSON | None = None, view: JSON | None = None,
                  response_url: str | None = None, state: JSON | None = None, token: str = "") -> JSON:
    """A block_actions payload."""
    payload: JSON = {
        "type": "block_actions", "user": user_ref(ws, user), "api_app_id": ws.app_id, "token": token,
        "container": container, "trigger_id": trigger_id, "team": team_ref(ws),
        "enterprise": enterprise_ref(ws), "is_enterprise_install": ws.org_install,
    }
    if channel is not None:
        payload["channel"] = channel
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    payload["state"] = {"values": state or {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = actions
    return payload


def view_submission(ws: Workspace, user: User, view: JSON, *, trigger_id: str, token: str = "") -> JSON:
    """A view_submission payload."""
    return {"type": "view_submission", "team": view_team(ws),
            "user": user_ref(ws, user), "view": view, "api_app_id": ws.app_id, "token": token,
            "trigger_id": trigger_id, "response_urls": [], "is_enterprise_install": ws.org_install,
            "enterprise": enterprise_ref(ws)}


def view_closed(ws: Workspace, user: User, view: JSON, *, is_cleared: bool, token: str = "") -> JSON:
    """A view_closed payload (sent only when the view asked for notify_on_close)."""
    return {"type": "view_closed", "team": view_team(ws),
            "user": user_ref(ws, user), "view": view, "api_app_id": ws.app_id, "token": token,
            "is_cleared": is_cleared, "is_enterprise_install": ws.org_install, "enterprise": enterprise_ref(ws)}
