"""Across incidents: stats over a period, full-text search (PostgreSQL and portable) and similar incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.errors import UsageError
from bot.insights import search, stats
from storage.models import Incident
from tests.postmortem_world import T0, World, fraud_incident, world

NOW = T0 + timedelta(days=60)


async def _three(w: World) -> None:
    await fraud_incident(w)
    await fraud_incident(w, start=T0 + timedelta(days=10), models=("fraud-scorer@4.3",), resolve=False,
                         channel="inc-20260322-fraud-again", title="Fraud false declines")
    await fraud_incident(w, start=T0 + timedelta(days=20), models=("ranker@1",), category="infrastructure",
                         channel="inc-20260401-ranker", title="Ranking latency")


async def test_stats_count_measure_and_follow_action_items(database_url: str) -> None:
    async with world(database_url) as w:
        await _three(w)
        async with w.session() as s:
            found = await stats.compute(s, catalog=w.catalog, team_id="T0TEST", category=None, now=NOW,
                                        period=stats.parse_period("90d", now=NOW))
    assert found.incidents == 3
    assert found.by_severity == [("SEV2", 3)]
    assert found.by_category == [("Data quality", 2), ("Infrastructure", 1)]
    spans = {s.key: s for s in found.spans}
    assert (spans["detect"].measured, spans["detect"].median, spans["detect"].p90) == (3, 2700, 2700)
    assert (spans["resolve"].measured, spans["resolve"].missing) == (2, 1)
    assert spans["insight"].median == 2700
    a = found.actions
    assert (a["total"], a["done"], a["on_time"], a["late"], a["open"], a["overdue"]) == (6, 3, 1, 2, 3, 3)
    # The first incident's fix was followed by another fraud-scorer incident within 30 days; the others were not.
    assert (a["regression_eligible"], a["regression_clean"], a["regression_pending"]) == (3, 2, 0)
    assert found.regression_free == pytest.approx(2 / 3)


async def test_stats_period_and_category_narrow_the_set(database_url: str) -> None:
    async with world(database_url) as w:
        await _three(w)
        async with w.session() as s:
            recent = await stats.compute(s, catalog=w.catalog, team_id="T0TEST", category=None, now=NOW,
                                         period=stats.parse_period("30d", now=NOW))
            infra = await stats.compute(s, catalog=w.catalog, team_id="T0TEST", category="infrastructure",
                                        now=NOW, period=stats.parse_period("12w", now=NOW))
            early = await stats.compute(s, catalog=w.catalog, team_id="T0TEST", category=None,
                                        now=T0 + timedelta(days=21), period=stats.parse_period("90d", now=NOW))
            with pytest.raises(UsageError, match="Unknown category `weather`"):
                await stats.compute(s, catalog=w.catalog, team_id="T0TEST", category="weather", now=NOW,
                                    period=stats.parse_period("90d", now=NOW))
    assert recent.incidents == 0
    assert infra.incidents == 1 and infra.by_category == [("Infrastructure", 1)]
    assert early.actions["regression_pending"] == 3 and early.regression_free is None


@pytest.mark.parametrize("text", ["soon", "0d", "9999d", "3m", ""])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="is not a period like 30d or 12w"):
        stats.parse_period(text, now=NOW)


async def test_search_matches_titles_notes_evidence_and_hypotheses(database_url: str) -> None:
    async with world(database_url) as w:
        await _three(w)
        await fraud_incident(w, start=T0 + timedelta(days=30), channel="inc-20260411-secret", title="Secret abuse",
                             category="adversarial")
        async with w.session() as s:
            by_hypothesis = await search.search(s, team_id="T0TEST", query="merchant_risk pipeline stale")
            by_evidence = await search.search(s, team_id="T0TEST", query="partition", model="ranker")
            by_title = await search.search(s, team_id="T0TEST", query="latency")
            narrowed = await search.search(s, team_id="T0TEST", query="latency", category="data-quality")
            nothing = await search.search(s, team_id="T0TEST", query="kubernetes")
            other_team = await search.search(s, team_id="T0OTHER", query="latency")
            with pytest.raises(UsageError, match="at least one word"):
                await search.search(s, team_id="T0TEST", query=" ! ")
    assert {h.incident.channel_name for h in by_hypothesis} == {"inc-20260312-fraud-precision",
                                                                "inc-20260322-fraud-again", "inc-20260401-ranker"}
    assert all(h.where.startswith("H") for h in by_hypothesis)
    assert [h.incident.channel_name for h in by_evidence] == ["inc-20260401-ranker"]
    assert by_evidence[0].where == "E2" and "partition" in by_evidence[0].snippet
    assert [h.incident.title for h in by_title] == ["Ranking latency"] and by_title[0].where == "title"
    assert narrowed == [] and nothing == [] and other_team == []


async def test_similar_lists_earlier_incidents_on_the_same_model_first(database_url: str) -> None:
    async with world(database_url) as w:
        await _three(w)
        later = await fraud_incident(w, start=T0 + timedelta(days=40), channel="inc-20260421-fraud-3",
                                     models=("fraud-scorer@5",), title="Fraud again", category="infrastructure")
        async with w.session() as s:
            found = await search.similar(s, later)
            named = select(Incident).where(Incident.channel_name == "inc-20260312-fraud-precision")
            oldest = (await s.exec(named)).one()
            first = await search.similar(s, oldest)
    assert [(x.incident.title, x.shared_models, x.same_category) for x in found] == [
        ("Fraud false declines", ["fraud-scorer"], False),
        ("Fraud model precision dropped", ["fraud-scorer"], False),
        ("Ranking latency", [], True),
    ]
    assert found[0].causes == ["The merchant_risk feature pipeline is stale"]
    assert [a.number for a in found[0].actions] == [1, 2]
    assert first == []
