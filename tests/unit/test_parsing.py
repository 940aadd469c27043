"""The /retro grammar: quotes, options, mentions; nothing crashes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import UsageError
from handlers.parsing import GENERAL_USAGE, USAGE, channel_ref, numbered, parse, tokenize, user_id


def test_empty_is_help() -> None:
    assert parse("   ").name == "help"


def test_words_and_options() -> None:
    cmd = parse("start Fraud precision drop sev=1 type=data-drift model=fraud@3")
    assert cmd.name == "start"
    assert cmd.words == ("Fraud", "precision", "drop")
    assert cmd.options == {"sev": "1", "type": "data-drift", "model": "fraud@3"}


def test_quoted_option_values_and_words() -> None:
    cmd = parse('test H1 replay "last Tuesday" expect="precision back to 0.9" criteria=\u201cp > 0.85\u201d')
    assert cmd.words == ("H1", "replay", "last Tuesday")
    assert cmd.options == {"expect": "precision back to 0.9", "criteria": "p > 0.85"}


def test_apostrophes_are_not_quotes() -> None:
    cmd = parse("note the model's recall didn't move")
    assert cmd.words == ("the", "model's", "recall", "didn't", "move")
    assert cmd.rest == "the model's recall didn't move"


def test_mentions_and_channels_stay_whole() -> None:
    tokens = [t.text for t in tokenize("scribe <@U123ABC|bob smith> <#C999|inc-x>")]
    assert tokens == ["scribe", "<@U123ABC|bob smith>", "<#C999|inc-x>"]
    assert user_id("<@U123ABC|bob smith>", "u") == "U123ABC"
    assert user_id("<@W0ENT>", "u") == "W0ENT"
    assert channel_ref("<#C999|inc-x>", "u") == ("C999", "inc-x")


def test_mention_inside_option_value_is_not_split() -> None:
    assert parse("action Add a guardrail owner=<@U1|al> due=+3d").options == {"owner": "<@U1|al>", "due": "+3d"}


def test_unknown_subcommand_gives_the_usage_line() -> None:
    with pytest.raises(UsageError) as err:
        parse("explode now")
    assert err.value.usage == GENERAL_USAGE
    assert "Unknown subcommand `explode`" in err.value.user_message


def test_duplicate_option_is_refused() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse("start x sev=1 sev=2")


def test_allow_options_names_the_offender() -> None:
    with pytest.raises(UsageError, match="`colour=`"):
        parse("list colour=red").allow_options()


@pytest.mark.parametrize("token,prefix,expected", [("H2", "H", 2), ("e15", "E", 15), ("A1", "A", 1)])
def test_numbered_ids(token: str, prefix: str, expected: int) -> None:
    assert numbered(token, prefix, "u") == expected


@pytest.mark.parametrize("token", ["H", "X2", "H2x", "H-1", ""])
def test_bad_numbered_ids(token: str) -> None:
    with pytest.raises(UsageError):
        numbered(token, "H", "u")


def test_every_subcommand_has_a_usage_line() -> None:
    assert all(line.startswith(f"/retro {name}") for name, line in USAGE.items())


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=300))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        cmd = parse(text)
    except UsageError as exc:
        assert exc.usage
        return
    assert cmd.name in USAGE
    for word in cmd.words:
        assert isinstance(word, str)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(USAGE)), st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)),
                                                        max_size=20), max_size=8))
def test_known_subcommands_with_any_arguments(name: str, args: list[str]) -> None:
    try:
        cmd = parse(" ".join([name, *args]))
    except UsageError:
        return
    assert cmd.name == name


def test_a_reason_keeps_its_text_verbatim() -> None:
    cmd = parse('status mitigated rolled back to fraud@2, flag "new_scorer"=off p99=80ms')
    assert cmd.words[0] == "mitigated"
    assert cmd.after_first_word() == 'rolled back to fraud@2, flag "new_scorer"=off p99=80ms'
    assert parse("sev 1").after_first_word() == ""
