"""The pattern library's rules without a database: symptom words, when a card is validated, which cards a new
incident is offered and which `/retro patterns` lists, the `save` grammar, and the postmortem's section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.blocks.home import home_view
from bot.blocks.kit import MESSAGE_TEXT_BUDGET, VIEW_BLOCKS_MAX, text_size
from bot.blocks.pattern_cards import library_blocks, suggestion_blocks
from bot.catalog import load_catalog
from bot.errors import UsageError
from bot.followup.verification import VerifiedAction
from bot.insights.pattern_use import record_of, with_patterns
from bot.insights.patterns import Card, library, suggestions, symptoms_of, validated_since
from bot.postmortem.doc_check import DocumentError, check_document
from bot.postmortem.document import FORMAT
from bot.postmortem.draft import render, template_environment
from bot.postmortem.export import load_document
from handlers.parsing import parse
from handlers.pattern_cmds import split_save
from storage.loop_tables import Pattern
from storage.models import ActionItem, Incident

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OLD = Path(__file__).parent.parent / "data" / "bundle-with-event-times"


def _card(number: int, *, category: str = "data-drift", models: list[str] | None = None,
          symptoms: list[str] | None = None, validated: datetime | None = None, incident_id: int = 1,
          name: str = "Stale features") -> Card:
    p = Pattern(id=number, team_id="T1", number=number, name=name, category=category, models=models or [],
                symptoms=symptoms or [], incident_id=incident_id, created_by="U1", created_at=T,
                hypothesis={"statement": "The feature store served yesterday's snapshot", "test_plan": "replay",
                            "expected": "scores match", "evidence_kinds": ["metric"], "number": 1},
                mitigations=[{"action_id": 7, "number": 1, "title": "Freshness guard", "kind": "guardrail",
                              "rollback": None, "checks": [{"stage": "canary", "method": "metric", "outcome": "pass",
                                                            "summary": "ok"}]}])
    return Card(p, "inc-2026-03-01-fraud", validated)


def _incident(title: str, *, category: str = "data-drift", models: list[str] | None = None) -> Incident:
    return Incident(id=99, team_id="T1", channel_name="inc-x", title=title, severity=2, category=category,
                    declared_by="U1", models=models or [], created_at=T)


def test_symptoms_are_the_telling_words_in_order() -> None:
    words = symptoms_of("Fraud model scores drifting after the feature pipeline change",
                        "Stale features: 2026 snapshot")
    assert words == ["fraud", "score", "drifting", "feature", "pipeline", "change", "stale", "snapshot"]
    assert symptoms_of("the model and the incident issues") == []
    assert len(symptoms_of(" ".join(f"word{n}x" for n in range(40)))) == 20


def _verified(action_id: int, at: datetime, regressed: datetime | None = None) -> dict[int, VerifiedAction]:
    return {action_id: VerifiedAction(action_id, 1, 1, at, regressed, at - timedelta(days=1))}


def test_a_card_is_validated_by_a_verified_mitigation_that_held() -> None:
    assert validated_since([7], {}, []) is None  # nothing verified
    assert validated_since([7], _verified(7, T), []) == T
    assert validated_since([8], _verified(7, T), []) is None  # not one of its mitigations
    assert validated_since([7], _verified(7, T, regressed=T + timedelta(days=2)), []) is None
    assert validated_since([7], _verified(7, T), [T - timedelta(days=1)]) == T  # recurred before the fix
    assert validated_since([7], _verified(7, T), [T + timedelta(days=3)]) is None  # came back after it
    both = {**_verified(7, T), **_verified(8, T + timedelta(days=1))}
    assert validated_since([7, 8], both, []) == T  # the earliest that qualifies


def test_a_new_incident_is_offered_the_cards_that_fit_best() -> None:
    same_model = _card(1, models=["fraud"], category="latency", name="Cache stampede")
    words_and_category = _card(2, symptoms=["stale", "feature"], validated=T)
    category_only = _card(3, name="Label lag")
    one_word = _card(4, category="latency", symptoms=["stale"], name="Label lag")
    newer_twin = _card(5, symptoms=["stale", "feature"])
    own = _card(6, models=["fraud"], incident_id=99)
    found = suggestions([same_model, words_and_category, category_only, one_word, newer_twin, own],
                        _incident("Stale features in fraud@4.3", models=["fraud@4.3"]), 3)
    # Category and two words weigh 4 (the validated card first), a shared model 3; the category alone (2) or one
    # word (1) is not enough, and a card saved from this very incident is skipped.
    assert [c.number for c in found] == [2, 5, 1]
    assert suggestions([same_model], _incident("Latency"), 3) == []


def test_the_library_filters_then_ranks_by_shared_words() -> None:
    cards = [_card(1, models=["fraud"], symptoms=["stale"], name="Old snapshot"),
             _card(2, category="latency", symptoms=["stale", "cache"], name="Cache stampede"),
             _card(3, symptoms=["drift"], validated=T, name="Holiday drift")]
    assert [c.number for c in library(cards, category=None, model=None, words=[])] == [3, 2, 1]
    assert [c.number for c in library(cards, category="data-drift", model=None, words=[])] == [3, 1]
    assert [c.number for c in library(cards, category=None, model="fraud@9", words=[])] == [1]
    assert [c.number for c in library(cards, category=None, model=None, words=["stale", "caches"])] == [2, 1]
    with pytest.raises(UsageError):
        library(cards, category=None, model=None, words=["a", "of"])


def test_save_takes_a_hypothesis_action_items_and_a_name() -> None:
    assert split_save(parse('pattern save H2 A1,A3 a4 name="Stale features"')) == (2, [1, 3, 4], "Stale features")
    assert split_save(parse("pattern save h1 name=Cache")) == (1, [], "Cache")
    for bad in ("pattern H1 name=x", "pattern save name=x", "pattern save H1", "pattern save X1 name=x",
                "pattern save H1 B2 name=x", "pattern save H1 name=x owner=y"):
        with pytest.raises(UsageError) as err:
            split_save(parse(bad))
        assert "/retro pattern save H<n>" in str(err.value), bad


def _doc() -> Any:
    return {**load_document(OLD), "format": FORMAT}


def test_the_postmortem_lists_the_patterns_only_when_there_are_some() -> None:
    env = template_environment()
    doc = _doc()
    plain = render(env, doc)
    assert "Patterns used / created" not in plain
    assert with_patterns(doc, []) is doc
    cards = [record_of(_card(2, validated=T), "used"), record_of(_card(1, name="Cache *stampede*"), "created")]
    with_cards = with_patterns(doc, cards)
    assert list(with_cards) == sorted(with_cards)  # canonical key order kept
    check_document(with_cards)
    text = render(env, with_cards)
    section = text[text.index("## Patterns used / created"):]
    assert "**P2** Stale features (used to start a hypothesis; validated since Monday 2 March 2026" in section
    assert "**P1** Cache **stampede** (saved from this incident; not validated yet" in section  # Slack's bold
    assert "snapshot — tested by: replay — fixed by: A1 Freshness guard: passed at canary (metric)" in section
    start, end = text.index("\n## Patterns used / created"), text.index("\n## Roles")
    assert text[:start] + text[end:] == plain  # the section is all that changed
    broken = {**with_cards, "patterns": [{"number": 1}]}
    with pytest.raises(DocumentError):
        check_document(broken)


def _heavy(number: int) -> Card:
    c = _card(number, name="N" * 150, validated=T)
    checks = [{"stage": f"stage{i}", "method": "metric", "outcome": "pass", "summary": "s" * 2000} for i in range(9)]
    c.pattern.hypothesis = {**c.pattern.hypothesis, "statement": "x" * 2000, "test_plan": "p" * 3000}
    c.pattern.mitigations = [{"action_id": a, "number": a, "title": "t" * 2000, "kind": "fix", "rollback": "r" * 900,
                              "checks": checks} for a in range(1, 9)]
    return c


def test_the_largest_cards_fit_slack_in_a_suggestion_the_library_and_the_home() -> None:
    cards = [_heavy(n) for n in range(1, 11)]
    posted = suggestion_blocks(cards)  # ten cards (the most a team may ask for) in one message, each shortened
    assert text_size(posted) <= MESSAGE_TEXT_BUDGET and all("*P" in str(b) for b in posted[1:-1])
    pages = library_blocks(cards, 10)
    assert text_size(pages) <= MESSAGE_TEXT_BUDGET and "page=2" in str(pages)
    items = [(ActionItem(id=n, team_id="T1", incident_id=1, number=n, title="t", owner="U1", due=T.date(),
                         created_by="U1", created_at=T), _incident("x")) for n in range(40)]
    view = home_view(items, [(_incident("y"), None)] * 40, load_catalog(None), T.date(), None, patterns=cards)
    assert len(view["blocks"]) <= VIEW_BLOCKS_MAX and "Pattern library:* 10 card(s), 10 validated" in str(view)
