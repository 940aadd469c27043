"""Echoed user text can never ping anyone."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.safety import escape_mrkdwn, neutralise

LIVE = re.compile(r"<[!@#]|<!(channel|here|everyone)|<@[UW]")


def test_specials_become_plain_text() -> None:
    out = neutralise("ping <!channel> <!here|here> <!everyone> <!subteam^S123|@ml-team> <@U1|bob> <@W2>")
    assert "<!" not in out and "<@" not in out
    assert "@bob" in out and "ml-team" in out and "@W2" in out


def test_bare_words_are_defused() -> None:
    out = neutralise("hey @channel and @here")
    assert "@channel" not in out and "@here" not in out


def test_escape_keeps_ordinary_text() -> None:
    assert escape_mrkdwn("precision < 0.8 & recall > 0.5") == "precision &lt; 0.8 &amp; recall &gt; 0.5"


PIECES = st.sampled_from(["<!channel>", "<!here>", "<!everyone>", "<!subteam^S1|@t>", "<@U123>", "<@W9|x>", "<",
                          "!", "@", ">", "|", "channel", "here", " ", "<<!", "<!date^1^{date}|x>", "a"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=20).map("".join) | st.text(max_size=200))
def test_nothing_live_survives(text: str) -> None:
    assert not LIVE.search(escape_mrkdwn(text))
    assert "<!" not in neutralise(text) and "<@" not in neutralise(text)


def test_a_collected_artifact_name_from_an_outside_server_cannot_ping() -> None:
    from datetime import UTC, datetime

    from bot.blocks.collected import _kept
    from storage.models import Evidence

    row = Evidence(team_id="T1", incident_id=1, number=1, kind="model", ref="fraud@3", added_by="U1",
                   added_at=datetime(2026, 5, 1, tzinfo=UTC), sha256="0" * 64,
                   custody={"artifact": {"name": "model <!here> <@U0BOSS> v1", "size": 9, "sha256": "a" * 64}})
    text = _kept(row)
    assert "<!here>" not in text and "<@U0BOSS>" not in text and "model" in text


def test_a_domain_error_names_people_without_markup_and_slack_shows_mentions() -> None:
    from bot.blocks.kit import error_text
    from bot.errors import ConflictError

    error = ConflictError("A1 is already owned by {owner} <!channel> & co.", people={"owner": "U0ALICE"})
    assert error.user_message == "A1 is already owned by U0ALICE <!channel> & co."
    assert error_text(error) == "A1 is already owned by <@U0ALICE> @\u200bchannel &amp; co."
    plain = ConflictError("{braces} stay as typed when nobody is named")
    assert plain.user_message == error_text(plain) == "{braces} stay as typed when nobody is named"
    forged = ConflictError("owned by {owner}", people={"owner": "<!here>"})  # only a user id becomes a mention
    assert error_text(forged) == "owned by @\u200bhere"


def test_an_unclosed_special_in_user_text_never_eats_the_text_after_it() -> None:
    from bot.errors import UsageError

    error = UsageError("Unknown subcommand `a<!b`.", "/retro <help|start|list>")
    shown = escape_mrkdwn(error.user_message)
    assert "Usage:" in shown and "help" in shown and "start" in shown and "list" in shown
    assert "<!" not in shown
    assert escape_mrkdwn("<!date^1700000000^{date}|Nov 14> and <!foo|bar> stay") == \
        "Nov 14 and &lt;\u200b!foo|bar&gt; stay"

