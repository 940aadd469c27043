"""Real-world times through /retro: `at=` on notes, status, severity, evidence, hypotheses and verdicts, the triage
template's "mitigated at", and the metrics, timeline views, postmortem and bundle that follow when things happened.

The team works in Europe/Berlin; the bot's clock is the test's, so "typed at 17:39" is exact.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.app.local import LocalStack
from bot.ids import Field
from bot.postmortem import document
from bot.postmortem.doc_types import Doc
from bot.postmortem.draft import render, template_environment
from bot.postmortem.export import POSTMORTEM, render_bundle, verify_bundle, write_bundle
from bot.postmortem.measures import incident_metrics
from bot.record.chain import verify_incident
from storage.models import Incident, TimelineEntry
from tests.e2e.berlin_team import Team, berlin_on, berlin_team
from tests.e2e.helpers import declare, entries, incident_named, run

DAY = date(2026, 12, 6)


def berlin(hour: int, minute: int, day: int = 6) -> datetime:
    """A wall-clock time in Berlin on December `day` 2026 (CET, UTC+1), as aware UTC."""
    return berlin_on(DAY.replace(day=day), hour, minute)


@pytest.fixture
async def team(database_url: str, tmp_path: Path) -> AsyncIterator[Team]:
    async with berlin_team(database_url, tmp_path, DAY) as team:
        yield team


async def _doc(stack: LocalStack, incident: Incident) -> Doc:
    async with stack.deps.session() as s:
        return await document.build(s, incident, catalog=stack.deps.catalog)


def _by_kind(rows: list[TimelineEntry], kind: str) -> TimelineEntry:
    return next(e for e in rows if e.kind == kind)


async def test_a_mitigation_typed_hours_later_counts_from_when_it_happened(team: Team) -> None:
    """Impact 09:00, the flag turned off at 10:05 but typed at 17:39: the impact lasted 1h 05m, not 8h 39m."""
    stack = team.stack
    incident, _ = await declare(stack, "Churn model scores everyone as leaving", options="sev=2 type=config-error")
    ch = incident.channel_name
    await run(stack, "alice", ch, "triage impact=09:00")
    team.at(17, 39)
    await run(stack, "alice", ch, "status mitigated flag churn_v2 turned off at=10:05")
    said = "\n".join(str(m.get("text")) for m in stack.driver.bot_messages(ch))
    assert "set the status to *mitigated* (happened at 10:05 CET): flag churn_v2 turned off" in said
    fresh = await incident_named(stack, ch)
    assert fresh.impact_started_at == berlin(9, 0) and fresh.mitigated_at == berlin(10, 5)
    status = _by_kind(await entries(stack, incident.id or 0), "status_changed")
    assert (status.at, status.occurred_at, status.text) == (berlin(17, 39), berlin(10, 5), "flag churn_v2 turned off")

    await run(stack, "bob", ch, "postmortem")
    markdown = render(template_environment(), await _doc(stack, fresh))
    assert "| Impact duration | 1h 05m |" in markdown and "| Time to mitigate | 45m |" in markdown
    assert re.search(r"- \*\*10:05\*\* · \*\*Mitigated\*\* · Status investigating → mitigated: flag churn_v2 "
                     r"turned off \(@\w+\) \*\(recorded 6 Dec 17:39\)\*", markdown)
    stats = await run(stack, "alice", ch, "stats")
    assert "*Impact duration:* median 1h 05m" in stats.text() and "*Time to mitigate:* median 45m" in stats.text()


async def test_notes_and_the_timeline_views_follow_when_things_happened(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    ch = incident.channel_name
    team.at(11, 0)
    noted = await run(stack, "bob", ch, 'note First precision alert fired at="yesterday 23:10"')
    assert "(happened at yesterday 23:10 CET): First precision alert fired" in noted.text()
    await run(stack, "carol", ch, "note Rolled back the feature pipeline")

    rows = await entries(stack, incident.id or 0)
    alert = next(e for e in rows if e.text == "First precision alert fired")
    assert alert.occurred_at == berlin(23, 10, day=5) and alert.at == berlin(11, 0)
    view = (await run(stack, "alice", ch, "timeline")).text()
    # Slack's view lists what happened first first, at its time in team time, saying when it was typed.
    assert "(times Europe/Berlin)" in view and "Dec 05 23:10:00 _(recorded 11:00)_" in view
    assert view.index("First precision alert fired") < view.index("declared") < view.index("Rolled back")

    markdown = render(template_environment(), await _doc(stack, incident))
    key = markdown.split("## Timeline", 1)[1].split("## Triage", 1)[0]
    assert key.index("First precision alert fired") < key.index("Incident declared") < key.index("Rolled back")
    appendix = markdown.split("## Appendix: full timeline", 1)[1]
    assert "First precision alert fired (recorded 6 Dec 11:00) |" in appendix


async def test_severity_evidence_hypotheses_and_verdicts_take_at(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Recommendations went stale", options="sev=3 type=data-quality")
    ch = incident.channel_name
    team.at(17, 39)
    await run(stack, "alice", ch, "sev 1 revenue impact confirmed at=09:40")
    await run(stack, "carol", ch, "evidence log https://logs.example.com/q?id=7 cache misses spike at=-7h")
    await run(stack, "dave", ch, "hypothesis The feature cache stopped refreshing at=11:00")
    posted = await run(stack, "dave", ch, "confirm H1 E1 the refresh job was paused at=12:00")
    assert posted.ok
    rows = await entries(stack, incident.id or 0)
    when = {e.kind: e.occurred_at for e in rows}
    assert when["severity_changed"] == berlin(9, 40) and when["evidence_added"] == berlin(10, 39)
    assert when["hypothesis_proposed"] == berlin(11, 0) and when["hypothesis_verdict"] == berlin(12, 0)
    assert all(e.at == berlin(17, 39) for e in rows if e.occurred_at is not None)
    fresh = await incident_named(stack, ch)
    assert fresh.insight_at == berlin(12, 0) and fresh.severity == 1
    said = "\n".join(str(m.get("text")) for m in stack.driver.bot_messages(ch))
    assert "set the severity to SEV1 (happened at 09:40 CET): revenue impact confirmed" in said
    assert "_Happened at 12:00 CET._" in said

    # A confirmation reached earlier but typed later moves the time to insight back.
    await run(stack, "dave", ch, "hypothesis The job's credentials expired")
    await run(stack, "dave", ch, "confirm H2 E1 at=11:30")
    doc = await _doc(stack, await incident_named(stack, ch))
    assert doc["incident"]["insight_at"] == "2026-12-06T10:30:00.000000Z"
    spans = {s["key"]: s["seconds"] for s in incident_metrics(doc)["spans"]}
    assert spans["insight"] == (11 * 60 + 30 - (9 * 60 + 20)) * 60


async def test_future_and_malformed_times_are_refused_and_nothing_is_recorded(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Latency spike", options="sev=3 type=infrastructure")
    ch = incident.channel_name
    before = len(await entries(stack, incident.id or 0))
    future = (await run(stack, "alice", ch, "note flag flipped at=18:00")).text()
    assert "`at=18:00` is in the future (18:00 CET; it is 09:20 CET now)" in future
    assert "/retro note <text> [at=<when>]" in future
    bad = (await run(stack, "alice", ch, "status mitigated at=teatime")).text()
    assert "`at=teatime` is not a time. Use 10:05 (today, team time)" in bad and "/retro status <" in bad
    day = (await run(stack, "alice", ch, "evidence log https://logs.example.com at=2026-12-06")).text()
    assert "`at=2026-12-06` is a day; give the time too" in day
    assert len(await entries(stack, incident.id or 0)) == before
    assert (await incident_named(stack, ch)).status == "investigating"
    helped = (await run(stack, "alice", ch, "help")).text()
    assert "/retro note <text> [at=<when>]" in helped and '<when>: when it happened, if not just now' in helped


async def test_triage_has_a_mitigated_at_field_in_the_modal_and_the_command(team: Team) -> None:
    stack, drv = team.stack, team.stack.driver
    incident, _ = await declare(stack, "Drift in churn inputs", options="sev=2 type=data-drift")
    ch = incident.channel_name
    team.at(12, 0)
    await run(stack, "alice", ch, "triage")
    view = drv.views_open_for("alice")[-1]
    assert Field.MITIGATED_AT in str(view["blocks"]) and "When it was mitigated" in str(view["blocks"])
    form = {"what_happened": "churn inputs drifted", "detection": "PSI alert", "affected": "churn@7",
            "customer_impact": "retention offers sent to the wrong users"}
    status, body = await drv.submit_view("alice", values={**form, "mitigated_at": int(berlin(13, 0).timestamp())})
    assert status == 200 and body["response_action"] == "errors"
    assert "cannot be in the future" in body["errors"][Field.MITIGATED_AT]
    status, _ = await drv.submit_view("alice", values={**form, "impact_start": int(berlin(8, 30).timestamp()),
                                                      "mitigated_at": int(berlin(10, 15).timestamp())})
    assert status == 200
    await stack.settle()
    assert (await incident_named(stack, ch)).mitigated_at == berlin(10, 15)

    await run(stack, "bob", ch, "triage mitigated=10:05")
    fresh = await incident_named(stack, ch)
    assert fresh.mitigated_at == berlin(10, 5) and fresh.impact_started_at == berlin(8, 30)
    thread = str(drv.thread(ch, incident.card_ts or ""))
    assert "submitted triage template v2 (when it was mitigated: 10:05 CET)" in thread
    refused = (await run(stack, "bob", ch, "triage mitigated=08:00")).text()
    assert "Mitigation cannot precede impact start." in refused
    markdown = render(template_environment(), await _doc(stack, fresh))
    assert "| When it was mitigated | Sun 6 Dec 2026, 10:05 CET |" in markdown
    assert "| Impact duration | 1h 35m |" in markdown


async def test_a_bundle_with_event_times_verifies_and_re_renders(team: Team, tmp_path: Path) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Scoring outage", options="sev=2 type=infrastructure")
    ch = incident.channel_name
    team.at(15, 0)
    await run(stack, "alice", ch, "note Traffic back to normal at=-2h")
    await run(stack, "alice", ch, "status resolved at=14:30")
    doc = await _doc(stack, await incident_named(stack, ch))
    assert doc["format"] == "retro-incident/3"
    assert [e["occurred_at"] for e in doc["entries"] if "occurred_at" in e] == [
        "2026-12-06T12:00:00.000000Z", "2026-12-06T13:30:00.000000Z"]
    folder = tmp_path / "bundle"
    write_bundle(template_environment(), doc, folder)
    report = verify_bundle(folder)
    assert report.ok, report.checks
    assert render_bundle(template_environment(), folder) == (folder / POSTMORTEM).read_text()
    # The record still says when each line was typed: moving a happened time breaks the chain.
    async with stack.deps.session() as s:
        row = (await entries(stack, incident.id or 0))[-1]
        stored = await s.get(TimelineEntry, row.id)
        assert stored is not None
        stored.occurred_at = berlin(14, 0)
        s.add(stored)
        await s.commit()
        broken = await verify_incident(s, await incident_named(stack, ch))
        assert not broken.ok and broken.bad_seq == row.seq
