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


def test_the_timeline_lists_charts_next_to_verdicts_citing_evidence() -> None:
    """A chart's entry names one evidence number where a verdict's names a list: both must list (a chart posted
    once made every timeline page of its incident fail)."""
    from datetime import UTC, datetime

    from bot.blocks.lists import timeline_page
    from storage.models import Incident, TimelineEntry

    at = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    incident = Incident(id=1, team_id="T1", key="inc-1", title="Scores drifted", severity=2, category="data-drift",
                        declared_by="U1", channel_id="C1", channel_name="inc-1", declared_at=at)
    entries = [TimelineEntry(team_id="T1", incident_id=1, seq=1, at=at, kind="chart_posted", actor="UBOT",
                             text="*E2* chart", data={"evidence": 2, "files": [{"id": "F1", "name": "E2-x.png"}]}),
               TimelineEntry(team_id="T1", incident_id=1, seq=2, at=at, kind="hypothesis_verdict", actor="U1",
                             text="lag", data={"number": 1, "verdict": "confirmed", "evidence": [2, 3]})]
    listed = str(timeline_page(incident, entries, page=1, show_all=True))
    assert "chart of E2 posted" in listed and "H1 confirmed E2 E3" in listed
