"""Cutting long content into messages and pages within Slack's caps, without losing or splitting an item."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, DividerBlock, MarkdownTextObject, SectionBlock

from bot.blocks.kit import (
    MESSAGE_BLOCKS_MAX,
    MESSAGE_TEXT_BUDGET,
    SECTION_MAX,
    chunk_lines,
    line_sections,
    paged,
    split_message,
    text_size,
)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def test_lines_are_grouped_without_loss_and_a_long_line_is_clipped() -> None:
    lines = [f"{n:03d} " + "x" * 596 for n in range(30)] + ["y" * 5000]
    groups = chunk_lines(lines, max_chars=SECTION_MAX)
    assert [line for group in groups for line in group][:30] == lines[:30]
    assert all(len("\n".join(group)) <= SECTION_MAX for group in groups)
    assert len(groups[-1][-1]) == SECTION_MAX and groups[-1][-1].endswith("…")
    assert [len(g) for g in chunk_lines(["a"] * 7, max_chars=100, max_lines=3)] == [3, 3, 1]


def test_split_message_keeps_every_block_within_both_caps() -> None:
    blocks: list[Block] = [*line_sections([f"line {n} " + "z" * 250 for n in range(400)]),
                           *(DividerBlock() for _ in range(120))]
    parts = split_message(blocks)
    assert sum(len(p) for p in parts) == len(blocks) and len(parts) > 1
    assert all(len(p) <= MESSAGE_BLOCKS_MAX and text_size(p) <= MESSAGE_TEXT_BUDGET for p in parts)


def test_paged_never_splits_an_item_and_says_how_many_are_elsewhere() -> None:
    groups: list[list[Block]] = [[section(f"*item {n}* " + "w" * 2900), DividerBlock()] for n in range(9)]
    head: list[Block] = [section("head")]
    first = [b.to_dict() for b in paged(head, groups, page=1, command="/retro things")]
    assert text_size(first) <= MESSAGE_TEXT_BUDGET and first[0]["text"]["text"] == "head"
    footer = first[-1]["elements"][0]["text"]
    assert footer.startswith("Page 1 of 3; 6 more") and "`/retro things page=2`" in footer
    last = [b.to_dict() for b in paged(head, groups, page=99, command="/retro things")]
    assert "Page 3 of 3" in str(last) and "page=2" in str(last) and "*item 8*" in str(last)
    assert paged(head, [], page=1, command="/retro things") == head
