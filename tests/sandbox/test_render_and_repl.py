"""Human-readable rendering of Block Kit, and the REPL driving a real Bolt app."""

from __future__ import annotations

import io

import pytest

from sandbox import SlackDriver, SlackEmulator, render_message, render_view, run_repl
from sandbox.render import blocks_text, mrkdwn_to_plain
from tests.sandbox.test_bolt import bolt_app  # noqa: F401  (fixture)
from tests.sandbox.test_interactions import MODAL

NAMES = {"U0ALICE": "alice", "U0BOT": "retro", "C0GENERAL": "general"}
RICH = {
    "type": "message", "ts": "1700000000.000100", "user": "U0BOT", "bot_id": "B0BOT", "channel": "C0GENERAL",
    "text": "fallback only",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "INC-7 Model drift"}},
        {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "Commander <@U0ALICE>"},
         "accessory": {"type": "button", "action_id": "roles", "value": "7",
                       "text": {"type": "plain_text", "text": "Assign roles"}}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Sev* 2"},
                                       {"type": "mrkdwn", "text": "*Channel* <#C0GENERAL>"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "see <https://runbook.example.com|runbook>"}]},
        {"type": "actions", "block_id": "a1", "elements": [
            {"type": "button", "action_id": "resolve", "style": "danger",
             "text": {"type": "plain_text", "text": "Resolve"}},
            {"type": "static_select", "action_id": "sev", "placeholder": {"type": "plain_text", "text": "Sev"},
             "options": [{"text": {"type": "plain_text", "text": "SEV1"}, "value": "1"}]}]},
    ],
}


def test_render_message_numbers_targets() -> None:
    out = render_message(RICH, names=NAMES, start=3)
    assert "retro [APP]" in out.text and "ts=1700000000.000100" in out.text
    assert "== INC-7 Model drift ==" in out.text
    assert "Commander @alice" in out.text and "[3 Assign roles]" in out.text
    assert "*Sev* 2 | *Channel* #general" in out.text
    assert "runbook (https://runbook.example.com)" in out.text
    assert "[4 Resolve!]" in out.text and "[5 Sev ▾: SEV1]" in out.text
    assert "fallback only" not in out.text
    assert [(t.index, t.action_id, t.block_id, t.value, t.channel, t.message_ts) for t in out.targets] == [
        (3, "roles", "s1", "7", "C0GENERAL", "1700000000.000100"),
        (4, "resolve", "a1", None, "C0GENERAL", "1700000000.000100"),
        (5, "sev", "a1", None, "C0GENERAL", "1700000000.000100")]
    assert out.targets[2].options == [("SEV1", "1")]


def test_render_plain_message_and_view() -> None:
    plain = render_message({"ts": "1700000000.000200", "user": "U0ALICE", "text": "hi &amp; <!here>",
                            "reply_count": 2}, names=NAMES)
    assert "alice" in plain.text and "hi & @here" in plain.text and "2 replies" in plain.text
    assert plain.targets == []
    view = render_view({**MODAL, "id": "V1"})
    assert view.text.startswith("┌ Start an incident  [modal V1]") and "<submit: Start>" in view.text
    assert [(f.block_id, f.action_id, f.kind, f.optional) for f in view.fields] == [
        ("title", "value", "plain_text_input", False), ("commander", "user", "users_select", False),
        ("sev", "pick", "static_select", True)]
    assert "Title*: <plain_text_input> (field 1: title)" in view.text


def test_text_helpers() -> None:
    assert mrkdwn_to_plain("<@U0ALICE|alice> in <#C9|inc-1> <mailto:a@b.c|mail>") == \
        "@alice in #inc-1 mail (mailto:a@b.c)"
    assert blocks_text(RICH["blocks"], NAMES).splitlines()[:2] == ["INC-7 Model drift", "Commander @alice"]


@pytest.mark.usefixtures("bolt_app")
async def test_repl_session(emulator: SlackEmulator, driver: SlackDriver) -> None:
    script = "\n".join([
        "help",
        "/retro hello",
        "click 1",
        "as bob: anyone looking?",
        "/retro start",
        'submit title="Model drift" commander=@bob',
        "user carol",
        "channels",
        "history 2",
        "click 99",
        "quit",
    ]) + "\n"
    out = io.StringIO()
    await run_repl(emulator, driver, stdin=io.StringIO(script), stdout=out)
    text = out.getvalue()
    assert "you said: hello" in text and "only visible to you" in text
    assert "[1 Ack]" in text and "Acked by @alice" in text
    assert "heard: anyone looking?" in text
    assert "┌ Start an incident" in text and "Commander*: <users_select>" in text
    assert "Started: Model drift by @alice" in text
    assert "you are now carol" in text and "#general C0GENERAL" in text
    assert "no button 99" in text
    assert driver.views_open_for("alice") == []


async def test_repl_reports_errors_and_eof(emulator: SlackEmulator, driver: SlackDriver) -> None:
    out = io.StringIO()
    await run_repl(emulator, driver, stdin=io.StringIO("#nope\nsubmit x=1\nedit 1.0 nope\n"), stdout=out)
    text = out.getvalue()
    assert "error: channel_not_found" in text
    assert "no modal open" in text
    assert "error: message_not_found" in text
