"""Slack's validation rules for channel names, Block Kit and views."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from .state import JSON, SlackError

MAX_MESSAGE_TEXT = 40_000
# "up to 50 blocks in each message, and 100 blocks in modals or Home tabs" (docs.slack.dev/reference/block-kit/blocks)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# Slack refuses a message whose blocks carry more than about 12,000 characters of text in total, on top of the
# per-block limits: `msg_blocks_too_long`. Undocumented; reports put the cut between 11,341 and 13,297 characters
# and a Slack engineer quoted "12,000 text characters" (github.com/slackapi/bolt-js/issues/2509 and /2867).
# The strict reading counts every text object anywhere in the blocks.
MAX_MESSAGE_BLOCKS_TEXT = 12_000
# A select menu offers at most 100 options; `option_groups` at most 100 groups, and the reference adds "with a
# maximum of 100 options" — read strictly, 100 options in all groups together
# (docs.slack.dev/reference/block-kit/block-elements/select-menu-element,
# docs.slack.dev/reference/block-kit/composition-objects/option-group-object).
MAX_SELECT_OPTIONS = 100
# plain_text_input: min_length 0–3000, max_length 1–3000 (docs.slack.dev/reference/block-kit/block-elements/
# plain-text-input-element); with no max_length, nothing longer than 3,000 can be typed (the strict reading).
MAX_TEXT_INPUT = 3000

_ELEMENT_TYPES = {
    "button", "static_select", "multi_static_select", "users_select", "multi_users_select",
    "conversations_select", "multi_conversations_select", "channels_select", "multi_channels_select",
    "external_select", "multi_external_select", "overflow", "datepicker", "timepicker", "datetimepicker",
    "checkboxes", "radio_buttons", "plain_text_input", "email_text_input", "url_text_input",
    "number_input", "rich_text_input", "image", "file_input", "workflow_button",
}
_BLOCK_TYPES = {"section", "divider", "image", "actions", "context", "input", "file", "header",
                "rich_text", "video", "markdown", "table", "context_actions"}


def with_ids(blocks: Any) -> Any:
    """Copy of blocks where missing block_id/action_id are filled in, as Slack stores them."""
    if not isinstance(blocks, list):
        return blocks
    out = copy.deepcopy(blocks)
    for block in out:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", secrets.token_urlsafe(4)[:5])
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        else:
            elements = [block.get("accessory"), block.get("element")]
        for el in elements:
            if isinstance(el, dict) and el.get("type") in _ELEMENT_TYPES and el["type"] != "image":
                el.setdefault("action_id", secrets.token_urlsafe(4)[:5])
    return out


def check_channel_name(name: str) -> None:
    """Raise the error conversations.create gives for an invalid channel name."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    for ch in name:
        # Slack accepts non-Latin lowercase letters, but nothing upper case, no spaces or dots.
        if not (ch in "-_" or ch.isdigit() or (ch.isalpha() and not ch.isupper())):
            raise SlackError("invalid_name_specials")
    if all(ch in "-_" for ch in name):
        raise SlackError("invalid_name_punctuation")


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, msg: str, path: str) -> None:
        self.problems.append(f"[ERROR] {msg} [json-pointer:{path}]")

    def text(self, obj: Any, path: str, max_len: int, *, plain: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
            self.fail("must be a valid text object", path)
            return
        if plain and obj["type"] != "plain_text":
            self.fail("must be plain_text", path + "/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.fail("must be a string", path + "/text")
        elif not value:
            self.fail("must be more than 0 characters", path + "/text")
        elif len(value) > max_len:
            self.fail(f"must be less than {max_len + 1} characters", path + "/text")

    def limit(self, value: Any, max_len: int, path: str) -> None:
        if value is not None and (not isinstance(value, str) or len(value) > max_len):
            self.fail(f"must be a string of at most {max_len} characters", path)

    def options(self, opts: Any, path: str, max_items: int = 100) -> None:
        if not isinstance(opts, list) or not opts or len(opts) > max_items:
            self.fail(f"must provide between 1 and {max_items} items", path)
            return
        for i, opt in enumerate(opts):
            if not isinstance(opt, dict):
                self.fail("must be an option object", f"{path}/{i}")
                continue
            # Option object: text 75, value 150, description 75 (docs.slack.dev/reference/block-kit/
            # composition-objects/option-object).
            self.text(opt.get("text"), f"{path}/{i}/text", 75)
            self.limit(opt.get("value"), 150, f"{path}/{i}/value")
            if "description" in opt:
                self.text(opt["description"], f"{path}/{i}/description", 75, plain=True)

    def select(self, el: JSON, path: str) -> None:
        has_options, has_groups = "options" in el, "option_groups" in el
        if has_options == has_groups:  # "If option_groups is specified, this field should not be."
            self.fail("must provide either options or option_groups", path)
        elif has_options:
            self.options(el["options"], path + "/options", MAX_SELECT_OPTIONS)
        else:
            groups = el["option_groups"]
            if not isinstance(groups, list) or not 1 <= len(groups) <= 100:
                self.fail("must provide between 1 and 100 option groups", path + "/option_groups")
                return
            for i, group in enumerate(groups):
                where = f"{path}/option_groups/{i}"
                if not isinstance(group, dict):
                    self.fail("must be an option group object", where)
                    continue
                self.text(group.get("label"), where + "/label", 75, plain=True)
                self.options(group.get("options"), where + "/options", MAX_SELECT_OPTIONS)
            total = sum(len(g["options"]) for g in groups if isinstance(g, dict) and isinstance(g.get("options"), list))
            if total > MAX_SELECT_OPTIONS:
                self.fail(f"must offer no more than {MAX_SELECT_OPTIONS} options in all", path + "/option_groups")

    def text_input(self, el: JSON, path: str) -> None:
        bounds = {key: el.get(key) for key in ("min_length", "max_length")}
        for key, floor in (("min_length", 0), ("max_length", 1)):
            n = bounds[key]
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not floor <= n <= MAX_TEXT_INPUT):
                self.fail(f"must be an integer between {floor} and {MAX_TEXT_INPUT}", f"{path}/{key}")
        low, high = bounds["min_length"], bounds["max_length"]
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.fail("min_length must not be greater than max_length", path + "/min_length")

    def element(self, el: Any, path: str) -> None:
        if not isinstance(el, dict) or el.get("type") not in _ELEMENT_TYPES:
            self.fail("must be a supported element type", path + "/type")
            return
        kind = el["type"]
        self.limit(el.get("action_id"), 255, path + "/action_id")
        if "placeholder" in el:
            self.text(el["placeholder"], path + "/placeholder", 150, plain=True)
        if kind == "button":
            self.text(el.get("text"), path + "/text", 75, plain=True)
            self.limit(el.get("value"), 2000, path + "/value")
            self.limit(el.get("url"), 3000, path + "/url")
            if el.get("style") not in (None, "primary", "danger"):
                self.fail("must be primary or danger", path + "/style")
        elif kind in ("static_select", "multi_static_select"):
            self.select(el, path)
        elif kind == "plain_text_input":
            self.text_input(el, path)
        elif kind in ("checkboxes", "radio_buttons"):
            self.options(el.get("options"), path + "/options", 10)
        elif kind == "overflow":
            self.options(el.get("options"), path + "/options", 5)
        elif kind == "image":
            self.limit(el.get("alt_text"), 2000, path + "/alt_text")

    def block(self, block: Any, path: str, seen_ids: set[str]) -> None:
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            self.fail("must be a supported block type", path + "/type")
            return
        kind = block["type"]
        block_id = block.get("block_id")
        if block_id is not None:
            self.limit(block_id, 255, path + "/block_id")
            if block_id in seen_ids:
                self.fail("block_id must be unique", path + "/block_id")
            seen_ids.add(str(block_id))
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail("must provide text or fields", path)
            if "text" in block:
                self.text(block["text"], path + "/text", 3000)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.fail("must provide at most 10 fields", path + "/fields")
                else:
                    for i, f in enumerate(fields):
                        self.text(f, f"{path}/fields/{i}", 2000)
            if "accessory" in block:
                self.element(block["accessory"], path + "/accessory")
        elif kind == "header":
            self.text(block.get("text"), path + "/text", 150, plain=True)
        elif kind == "context":
            els = block.get("elements")
            if not isinstance(els, list) or not 1 <= len(els) <= 10:
                self.fail("must provide between 1 and 10 elements", path + "/elements")
            else:
                for i, el in enumerate(els):
                    if isinstance(el, dict) and el.get("type") == "image":
                        continue
                    self.text(el, f"{path}/elements/{i}", 3000)
        elif kind == "actions":
            els = block.get("elements")
            if not isinstance(els, list) or not 1 <= len(els) <= 25:
                self.fail("must provide between 1 and 25 elements", path + "/elements")
            else:
                ids = [e.get("action_id") for e in els if isinstance(e, dict) and e.get("action_id")]
                if len(ids) != len(set(ids)):
                    self.fail("action_id must be unique within a block", path + "/elements")
                for i, el in enumerate(els):
                    self.element(el, f"{path}/elements/{i}")
        elif kind == "input":
            self.text(block.get("label"), path + "/label", 2000, plain=True)
            if "hint" in block:
                self.text(block["hint"], path + "/hint", 2000, plain=True)
            self.element(block.get("element"), path + "/element")
        elif kind == "image":
            self.limit(block.get("alt_text"), 2000, path + "/alt_text")
            if not block.get("alt_text"):
                self.fail("must provide alt_text", path + "/alt_text")

    def blocks(self, blocks: Any, max_items: int) -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", "/blocks")
            return
        if len(blocks) > max_items:
            self.fail(f"no more than {max_items} items allowed", "/blocks")
        seen: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"/blocks/{i}", seen)


def check_message_blocks(blocks: Any) -> None:
    """Raise `invalid_blocks` or `msg_blocks_too_long` unless blocks are valid message Block Kit."""
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    checker = _Checker()
    checker.blocks(blocks, MAX_MESSAGE_BLOCKS)
    if checker.problems:
        raise SlackError("invalid_blocks", response_metadata={"messages": checker.problems})
    if blocks_text_length(blocks) > MAX_MESSAGE_BLOCKS_TEXT:
        raise SlackError("msg_blocks_too_long")


def blocks_text_length(blocks: Any) -> int:
    """Characters of text in every text object (plain_text or mrkdwn) anywhere in the blocks."""
    if isinstance(blocks, list):
        return sum(blocks_text_length(item) for item in blocks)
    if not isinstance(blocks, dict):
        return 0
    own = blocks.get("text")
    total = len(own) if blocks.get("type") in ("plain_text", "mrkdwn") and isinstance(own, str) else 0
    return total + sum(blocks_text_length(value) for value in blocks.values() if isinstance(value, (dict, list)))


def check_message_text(text: str | None) -> None:
    """Raise `msg_too_long` for text over Slack's limit."""
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")


def check_view(view: Any) -> JSON:
    """Validate a view payload; raise `invalid_arguments` like Slack when it is malformed."""
    checker = _Checker()
    if not isinstance(view, dict):
        problem = "[ERROR] view must be an object [json-pointer:/view]"
        raise SlackError("invalid_arguments", response_metadata={"messages": [problem]})
    # Title, close and submit 24; private_metadata 3,000; callback_id 255 (docs.slack.dev/reference/views/modal-views)
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("must be modal or home", "/view/type")
    if kind == "modal":
        checker.text(view.get("title"), "/view/title", 24, plain=True)
        for key in ("close", "submit"):
            if view.get(key) is not None:
                checker.text(view[key], f"/view/{key}", 24, plain=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            checker.fail("submit is required when an input block is within the blocks", "/view/submit")
    checker.blocks(view.get("blocks", []), MAX_VIEW_BLOCKS)
    checker.limit(view.get("private_metadata"), 3000, "/view/private_metadata")
    checker.limit(view.get("callback_id"), 255, "/view/callback_id")
    checker.limit(view.get("external_id"), 255, "/view/external_id")
    if checker.problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": checker.problems})
    return view
