"""Slack's mrkdwn as Markdown (documents of format retro-incident/3 on): the formatting people gave their text in
Slack survives, and nothing else becomes structure; the blameless check's notes land next to what they flag."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.postmortem import mrkdwn
from bot.postmortem.blameless import Finding, annotate
from tests.unit.test_postmortem_escaping import _html, _words

RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PEOPLE = {"U1": "Alice Smith"}
TABLE = {"table", "thead", "tbody", "tr", "th", "td"}
FORMATTING = {"br", "strong", "em", "del", "s", "code"}


@pytest.mark.parametrize(("slack", "markdown"), [
    ("*bold* _italic_ ~struck~", "**bold** *italic* ~~struck~~"),
    ("`a|b` and ```two\nlines```", "`a\\|b` and `two lines`"),
    ("see <https://x.example/a b|the *runbook*> or <https://x.example>",
     "see [the \\*runbook\\*](https://x.example/a%20b) or https://x.example"),
    ("<javascript:alert(1)|click> <@U1> <@U2|bob> <#C1|inc-x> <!here>",
     "\\<javascript:alert(1)\\|click> @Alice Smith @bob #inc-x @here"),
    ("R&amp;D &lt;b&gt; &copy; AT&T", "R&D \\<b> \\&copy; AT&T"),
    ("snake_case_name, 2*3*4, a * b * c, **double**", "snake_case_name, 2\\*3\\*4, a \\* b \\* c, \\*\\*double\\*\\*"),
    ("*see <https://a.example|docs>* _and <@U1>_", "**see [docs](https://a.example)** *and @Alice Smith*"),
    ("# heading\n> quote\n1. item", "\\# heading<br>\\> quote<br>1\\. item"),
])
def test_slack_formatting_becomes_markdown(slack: str, markdown: str) -> None:
    assert mrkdwn.inline(slack, PEOPLE) == markdown


ALPHABET = "*_~`<>|&;#@![]()-:/ 1aU\n"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_any_text_in_a_table_cell_stays_one_cell_with_only_formatting(text: str) -> None:
    html = _html(f"| h |\n|---|\n| {mrkdwn.inline(text, PEOPLE)} |\n")
    assert set(html.tags) <= TABLE | FORMATTING | {"a"}, (text, html.tags)
    assert html.tags.count("td") == 1
    assert all(value.startswith(("https://", "http://", "mailto:")) for _, attr, value in html.attrs
               if attr in ("href", "src")), text
    assert not any(attr.startswith("on") for _, attr, _ in html.attrs)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_any_text_as_a_list_item_stays_in_its_item(text: str) -> None:
    html = _html("- **Note:** " + mrkdwn.block(text, PEOPLE, indent=2) + "\n")
    assert set(html.tags) <= {"ul", "li", "p"} | FORMATTING | {"a"}, (text, html.tags)
    assert html.tags.count("li") == 1


def _finding(sentence: str) -> Finding:
    return Finding("human-error", 0, sentence, "", "Why it matters.", "Ask what made it easy.", "A reframing.")


def test_notes_land_after_the_list_item_table_or_paragraph_they_flag() -> None:
    markdown = ("## Timeline\n\n- **09:40** · Human error by the on-call\n  more of the item\n- **09:41** · next\n\n"
                "| a | b |\n|---|---|\n| x | Human error in a cell |\n\nA paragraph: human error again.\n"
                "Its second line.\n\n## End\n")
    found = [_finding("09:40 · Human error by the on-call"),
             _finding("x"), _finding("Human error in a cell"), _finding("A paragraph: human error again.")]
    out = annotate(markdown, found)
    assert ("- **09:40** · Human error by the on-call\n  more of the item\n  > ⚠️ **Blameless check** (human-error): "
            "“09:40 · Human error by the on-call” — Why it matters. Ask what made it easy. "
            "Could read: “A reframing.”\n- **09:41** · next") in out
    assert "| x | Human error in a cell |\n\n> ⚠️ **Blameless check** (human-error): “x”" in out
    assert "Its second line.\n\n> ⚠️ **Blameless check** (human-error): “A paragraph: human error again.”" in out
    html = _html(out)
    assert html.tags.count("li") == 2 and html.tags.count("blockquote") == 3 and html.tags.count("table") == 1
    assert "Human error in a cell" in _words("".join(html.text))
    assert annotate(markdown, []) == markdown


@pytest.mark.parametrize("text", ["`<1>1`", "`<x>y<z>`", "<1>1"])
def test_a_reference_followed_by_text_in_one_atom_is_kept_whole(text: str) -> None:
    html = _html(f"| h |\n|---|\n| {mrkdwn.inline(text, PEOPLE)} |\n")  # found by the property test above
    assert html.tags.count("td") == 1 and set(html.tags) <= TABLE | FORMATTING | {"a"}
