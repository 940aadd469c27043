"""Primitives shared by the block builders."""

from __future__ import annotations

import re
from datetime import datetime
from string import Formatter
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.errors import RetroError
from bot.safety import escape_mrkdwn

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

Blocks = list[dict[str, Any]]
SECTION_MAX = 3000
MESSAGE_BLOCKS_MAX = 50


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def echo(text: str | None, limit: int = SECTION_MAX) -> str:
    """User text made safe to show in mrkdwn: no pings, no markup injection, within the limit."""
    return clip(escape_mrkdwn(text or ""), limit)


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


def render(blocks: list[Block]) -> Blocks:
    """Validate and serialise."""
    return [b.to_dict() for b in blocks[:MESSAGE_BLOCKS_MAX]]


def plain_message(text: str) -> Blocks:
    """One section of bot-authored mrkdwn (callers escape any user text they include)."""
    return render([SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_MAX)))])


def context(text: str) -> ContextBlock:
    """A small grey line."""
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_MAX))])
