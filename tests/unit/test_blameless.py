"""The blameless check: what it flags, what it leaves alone, and how teams configure it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import BlamelessRule, load_catalog
from bot.errors import ConfigError
from bot.postmortem.blameless import SKIP_END, SKIP_START, scan, sentences
from bot.postmortem.draft import prepare, template_environment
from tests.postmortem_world import document_of, fraud_incident, world

RULES = load_catalog().blameless.rules


@pytest.mark.parametrize(("text", "rule"), [
    ("The outage was Bob's fault.", "person-fault"),
    ("It was his fault that the job stopped.", "person-fault"),
    ("@carol broke the feature pipeline.", "person-caused"),
    ("The regression was introduced by @dave on Monday.", "person-caused"),
    ("We should have checked the partition dates.", "hindsight"),
    ("Someone shouldn't have paused the DAG.", "hindsight"),
    ("A careless config change disabled the check.", "character"),
    ("Root cause: human error.", "human-error"),
    ("Operator error during the backfill.", "human-error"),
    ("The on-call engineer is to blame.", "blame"),
    ("They forgot to resume the DAG.", "lapse"),
    ("Obviously wrong thresholds were shipped.", "obviously"),
])
def test_blame_phrasing_is_found(text: str, rule: str) -> None:
    found = scan(f"## Summary\n\n{text}\n", RULES)
    assert rule in [f.rule for f in found]
    finding = next(f for f in found if f.rule == rule)
    assert finding.sentence == text and finding.line == 3 and finding.suggestion


@pytest.mark.parametrize("text", [
    "The merchant_risk DAG was paused after a failed backfill, and no alert reached the on-call channel.",
    "Precision fell from 0.91 to 0.62; recall held.",
    "The deploy process did not require a freshness check.",
    "Default values faulted the scorer's risk features.",
    "We shall have a review on Friday.",
])
def test_neutral_system_language_is_left_alone(text: str) -> None:
    assert scan(text, RULES) == []


def test_rewrites_suggest_a_reframed_sentence() -> None:
    [finding] = scan("- **Root cause:** human error in the backfill.", RULES)
    assert finding.sentence == "Root cause: human error in the backfill."
    assert finding.reframed == ("Root cause: a process gap that made a manual mistake easy to make and hard to "
                                "catch in the backfill.")


def test_verbatim_regions_code_and_comments_are_skipped() -> None:
    md = (f"Intro.\n{SKIP_START}\n| 1 | @bob | it was my fault lol |\n{SKIP_END}\n```\nblame = 1\n```\n"
          "<!-- careless -->\nAfter: they forgot the runbook.\n")
    found = scan(md, RULES)
    assert [(f.rule, f.line) for f in found] == [("lapse", 9)]


def test_sentences_are_split_in_lines_and_table_cells() -> None:
    md = "| A1 | We should have alerted. Then it was fine. | @dave |\n- one. Two!\n"
    assert list(sentences(md)) == [(1, "A1"), (1, "We should have alerted."), (1, "Then it was fine."),
                                   (1, "@dave"), (2, "one."), (2, "Two!")]


def test_a_sentence_repeated_verbatim_is_reported_once_per_rule() -> None:
    assert len(scan("Human error.\nHuman error.\n", RULES)) == 1


async def test_the_packaged_template_itself_is_blameless(database_url: str) -> None:
    async with world(database_url) as w:
        inc = await fraud_incident(w, title="Stale merchant_risk features", resolve=False)
        doc = await document_of(w, inc)
        doc["hypotheses"], doc["actions"], doc["evidence"], doc["triage"] = [], [], [], None
        _, findings = prepare(template_environment(), doc, w.catalog)
    assert findings == []


def test_teams_configure_their_own_rules(tmp_path: Path) -> None:
    config = tmp_path / "retro.yml"
    config.write_text("blameless:\n  rules:\n    - id: rockstar\n      pattern: '\\brockstars?\\b'\n"
                      "      why: Hero culture.\n      suggestion: Credit the practice, not the person.\n")
    catalog = load_catalog(config)
    assert [r.id for r in catalog.blameless.rules] == ["rockstar"]
    assert [f.rule for f in scan("Our rockstar fixed it. It was Bob's fault.", catalog.blameless.rules)] == \
        ["rockstar"]
    config.write_text("blameless:\n  enabled: false\n")
    assert load_catalog(config).blameless.enabled is False


def test_a_bad_rule_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "retro.yml"
    config.write_text("blameless:\n  rules:\n    - id: broken\n      pattern: '(unclosed'\n      why: x\n"
                      "      suggestion: y\n")
    with pytest.raises(ConfigError, match="blameless.rules.0.pattern"):
        load_catalog(config)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        BlamelessRule(id="x", pattern="[", why="w", suggestion="s")


def test_findings_quote_escaped_draft_text_as_it_was_typed() -> None:
    from bot.postmortem.escaping import escape_text

    typed = "We *should have* paused feature_x [ingest] <job> | retried it."
    table = f"| 10:05 | {escape_text(typed)} |\n"
    found = scan(f"## Timeline\n\n{table}", RULES)
    assert [f.rule for f in found] == ["hindsight"]
    assert found[0].sentence == typed  # the escapes the draft added are not shown back
