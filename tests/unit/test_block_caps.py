"""A message's blocks are never cut to fit: render refuses what Slack would, and builders split, page or share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block, DividerBlock, MarkdownTextObject, SectionBlock

from bot.blocks.card import help_blocks, roles_prompt_blocks
from bot.blocks.kit import MESSAGE_BLOCKS_MAX, MESSAGE_TEXT_BUDGET, OverSlackLimit, plain_message, render, text_size
from bot.catalog import MAX_ROLES, Catalog, load_catalog
from storage.models import Incident


def _incident() -> Incident:
    return Incident(id=7, team_id="T1", channel_id="C1", channel_name="inc-x", title="Drift", severity=2,
                    category="data-drift", declared_by="U1", declared_in="C0", created_at=datetime.now(UTC))


def test_render_refuses_more_blocks_or_text_than_one_message_takes() -> None:
    assert len(render([DividerBlock() for _ in range(MESSAGE_BLOCKS_MAX)])) == MESSAGE_BLOCKS_MAX
    with pytest.raises(OverSlackLimit, match="51 blocks"):
        render([DividerBlock() for _ in range(MESSAGE_BLOCKS_MAX + 1)])
    heavy: list[Block] = [SectionBlock(text=MarkdownTextObject(text="a" * 3000)) for _ in range(4)]
    with pytest.raises(OverSlackLimit, match="12000 characters"):
        render(heavy)


def test_a_long_plain_message_is_cut_into_sections_not_clipped() -> None:
    lines = [f"line {n:03d} " + "x" * 90 for n in range(100)]
    blocks = plain_message("\n".join(lines))
    assert len(blocks) > 1 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert "\n".join(b["text"]["text"] for b in blocks) == "\n".join(lines)


def test_help_lists_every_command_however_long_the_list() -> None:
    usage = {f"cmd{n}": f"/retro cmd{n} <argument> [page=N]" for n in range(100)}
    blocks = help_blocks(usage)
    assert sum(1 for b in blocks if b["type"] == "section") > 2  # more than one section's worth of commands
    assert all(f"/retro cmd{n} " in str(blocks) for n in range(100))


def test_the_roles_prompt_shares_the_room_between_every_role() -> None:
    data = load_catalog().model_dump()
    data["roles"] = [{"id": "commander" if n == 0 else f"r{n}", "name": f"Role{n:02d}", "duties": f"Duty{n:02d} " +
                      "keep watch " * 300} for n in range(MAX_ROLES)]
    blocks = roles_prompt_blocks(_incident(), {"commander": "U1"}, Catalog.model_validate(data))
    assert len(blocks) == MAX_ROLES + 1 and text_size(blocks) <= MESSAGE_TEXT_BUDGET
    assert all(f"Duty{n:02d}" in str(blocks) and f"*Role{n:02d}*" in str(blocks) for n in range(MAX_ROLES))
    few = roles_prompt_blocks(_incident(), {}, load_catalog())
    assert all(role.duties in str(few) for role in load_catalog().roles)  # duties in full when they fit
