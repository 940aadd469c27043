"""Slack's entity-escaped text decoded once: the command grammar, timeline display and channel slugs."""

from __future__ import annotations

from bot.incident.incidents import slugify
from bot.record.timeline import readable_text, unescape_slack
from handlers.parsing import parse, tokenize


def test_entities_are_decoded_once_and_markup_is_kept() -> None:
    sent = "a &gt; b &amp;&amp; c &amp;lt;tag&amp;gt; <https://x.example/?a=1&amp;b=2|p &amp; q> <@U1|bob>"
    assert unescape_slack(sent) == "a > b && c &lt;tag&gt; <https://x.example/?a=1&amp;b=2|p &amp; q> <@U1|bob>"


def test_only_slack_message_entries_are_decoded_for_reading() -> None:
    assert readable_text("message", "p &gt; 0.8") == "p > 0.8"
    assert readable_text("message_edited", "x &amp; y") == "x & y"
    assert readable_text("note", "typed &gt; literally") == "typed &gt; literally"
    assert readable_text("message", None) is None


def test_commands_are_decoded_after_they_are_split() -> None:
    cmd = parse('test H1 p &lt; 0.05 &amp; <@U0BOB|bob> expect="psi &gt; 0.2" &lt;x=1&gt;')
    assert cmd.words == ("H1", "p", "<", "0.05", "&", "<@U0BOB|bob>", "<x=1>")
    assert cmd.options == {"expect": "psi > 0.2"}
    assert cmd.rest == 'H1 p < 0.05 & <@U0BOB|bob> expect="psi > 0.2" <x=1>'
    assert parse("note a &amp;gt; b").rest == "a &gt; b"


def test_a_typed_angle_bracket_is_a_character_to_the_tokenizer() -> None:
    words = [t.text for t in tokenize('plan p < 0.05 expect="a > b" <https://x.example|see it> <@U1>')]
    assert words == ["plan", "p", "<", "0.05", "expect=a > b", "<https://x.example|see it>", "<@U1>"]


def test_slugs_read_markup_as_words() -> None:
    assert slugify("p@k > 0.8 & recall") == "p-k-0-8-recall"
    assert slugify("<@U0BOB|bob> saw <https://grafana.example.com/d/1> in <#C0OPS|ops> <!here>") == \
        "bob-saw-grafana-example-com-in-ops"
    assert slugify("<@U0BOB> <https://x.example|dash board>") == "dash-board"
