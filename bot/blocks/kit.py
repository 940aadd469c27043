"""Primitives shared by the block builders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from string import Formatter
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.errors import RetroError
from bot.ids import ActionId
from bot.safety import escape_mrkdwn

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

Blocks = list[dict[str, Any]]
SECTION_MAX = 3000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100  # a modal or the App Home (docs.slack.dev/reference/views/modal-views, /home-tab-views)
# Slack refuses a message whose blocks carry about 12,000 characters of text in total (`msg_blocks_too_long`); it
# has refused as few as 11,341 (github.com/slackapi/bolt-js/issues/2509 and /2867). A message stays under this.
MESSAGE_TEXT_BUDGET = 11_000


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def web_button(web_base: str | None, incident_id: int | None, page: str = "") -> ButtonElement | None:
    """"Open in Retro": the incident's page of the web view (None when the web view has no public address)."""
    if not web_base or incident_id is None:
        return None
    return ButtonElement(text="Open in Retro", action_id=ActionId.OPEN_IN_RETRO, value=str(incident_id),
                         url=f"{web_base}/incidents/{incident_id}{page}")


def echo(text: str | None, limit: int = SECTION_MAX, names: Mapping[str, str] | None = None) -> str:
    """User text made safe to show in mrkdwn: no pings, no markup injection, within the limit; a mention shows as
    `@name` (its label, else its display name in `names`, else its id)."""
    return clip(escape_mrkdwn(text or "", names), limit)


def error_text(error: RetroError) -> str:
    """A domain error as mrkdwn: its words escaped, the people it names as mentions."""
    if not error.people:
        return escape_mrkdwn(error.template)
    out = []
    for literal, field, _, _ in Formatter().parse(error.template):
        out.append(escape_mrkdwn(literal))
        if field is not None:
            out.append(f"<@{error.people[field]}>" if _USER_ID.fullmatch(error.people[field]) else
                       escape_mrkdwn(error.people[field]))
    return "".join(out)


def when(at: datetime | None) -> str:
    """A Slack date token (shown in each reader's own timezone) with a UTC fallback text."""
    if at is None:
        return "—"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def user(uid: str | None) -> str:
    """A mention of a user id the bot chose to mention (never user-supplied text)."""
    return f"<@{uid}>" if uid else "—"


class OverSlackLimit(ValueError):
    """Blocks one message cannot carry: the builder should have split or paged them (never dropped)."""


def render(blocks: list[Block]) -> Blocks:
    """Validate and serialise one message's blocks; raise OverSlackLimit rather than drop any of them."""
    out = [b.to_dict() for b in blocks]
    size = text_size(out)
    if len(out) > MESSAGE_BLOCKS_MAX or size > MESSAGE_TEXT_BUDGET:
        raise OverSlackLimit(f"{len(out)} blocks with {size} characters of text: one message takes at most "
                             f"{MESSAGE_BLOCKS_MAX} blocks and Retro keeps it under {MESSAGE_TEXT_BUDGET} characters")
    return out


def plain_message(text: str) -> Blocks:
    """Bot-authored mrkdwn in as many sections as it needs (callers escape any user text they include)."""
    return render([*line_sections(text.split("\n"))])


def context(text: str) -> ContextBlock:
    """A small grey line."""
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_MAX))])


def text_size(block: Block | dict[str, Any] | list[Any]) -> int:
    """Characters of text in every text object of a block (what Slack counts against a message's total)."""
    node: Any = block.to_dict() if isinstance(block, Block) else block
    if isinstance(node, list):
        return sum(text_size(item) for item in node)
    own = node.get("text")
    size = len(own) if node.get("type") in ("plain_text", "mrkdwn") and isinstance(own, str) else 0
    return size + sum(text_size(v) for v in node.values() if isinstance(v, dict | list))


def split_message(blocks: list[Block], *, max_blocks: int = MESSAGE_BLOCKS_MAX,
                  budget: int = MESSAGE_TEXT_BUDGET) -> list[Blocks]:
    """Blocks cut, in order, into as many messages as it takes to keep each within Slack's caps."""
    messages: list[Blocks] = []
    current: Blocks = []
    used = 0
    for block in blocks:
        as_dict = block.to_dict()
        size = text_size(as_dict)
        if current and (len(current) >= max_blocks or used + size > budget):
            messages.append(current)
            current, used = [], 0
        current.append(as_dict)
        used += size
    return [*messages, current] if current else messages


def chunk_lines(lines: list[str], *, max_chars: int, max_lines: int | None = None) -> list[list[str]]:
    """Lines grouped, in order, so each group joined by newlines stays within max_chars (and max_lines).

    A line longer than max_chars on its own is clipped, never dropped.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    used = 0
    for raw in lines:
        line = clip(raw, max_chars)
        extra = len(line) + (1 if current else 0)
        if current and (used + extra > max_chars or (max_lines is not None and len(current) >= max_lines)):
            groups.append(current)
            current, used, extra = [], 0, len(line)
        current.append(line)
        used += extra
    return [*groups, current] if current else groups


def line_sections(lines: list[str]) -> list[SectionBlock]:
    """Lines of mrkdwn packed into as few sections as Slack's 3,000-character section limit allows."""
    return [SectionBlock(text=MarkdownTextObject(text="\n".join(group)))
            for group in chunk_lines(lines, max_chars=SECTION_MAX)]


def pack_groups(groups: list[list[Block]], *, budget: int, max_blocks: int) -> list[list[list[Block]]]:
    """Groups of blocks (an item and its buttons) cut, in order and never split, into pages within the caps."""
    pages: list[list[list[Block]]] = []
    current: list[list[Block]] = []
    blocks = used = 0
    for group in groups:
        size = sum(text_size(b) for b in group)
        if current and (blocks + len(group) > max_blocks or used + size > budget):
            pages.append(current)
            current, blocks, used = [], 0, 0
        current.append(group)
        blocks += len(group)
        used += size
    return [*pages, current] if current else pages


def paged(head: list[Block], groups: list[list[Block]], *, page: int, command: str) -> list[Block]:
    """The head, then one page of the groups, then how many are on other pages and how to see them."""
    pages = pack_groups(groups, budget=MESSAGE_TEXT_BUDGET - sum(text_size(b) for b in head) - 300,
                        max_blocks=MESSAGE_BLOCKS_MAX - len(head) - 1)
    if not pages:
        return head
    page = min(max(1, page), len(pages))
    blocks = [*head, *(b for group in pages[page - 1] for b in group)]
    if len(pages) > 1:
        hints = [f"`{command} page={n}`" for n in (page - 1, page + 1) if 1 <= n <= len(pages)]
        blocks.append(context(f"Page {page} of {len(pages)}; {len(groups) - len(pages[page - 1])} more on the "
                              f"other pages: {' or '.join(hints)}."))
    return blocks
