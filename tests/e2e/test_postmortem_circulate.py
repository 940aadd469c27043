"""A postmortem worth circulating, end to end through the sandbox: lessons learned, the trigger apart from the root
cause, contributing factors, related incidents, peak severity, owner, reviewers and review status, a key timeline of
what happened (not Retro's bookkeeping) in Markdown people read, the blameless check's notes beside what they flag,
and a timeline picture that goes into the bundle as PNG too.

The team works in Europe/Berlin; the bot's clock is the test's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.postmortem import document
from bot.postmortem.draft import checked, template_environment
from bot.postmortem.export import MANIFEST, PICTURE_PNG, verify_bundle, write_bundle
from bot.postmortem.picture import Text, measure
from bot.postmortem.story import key_timeline
from bot.postmortem.timeline_picture import layout, readable, timeline_png
from storage.models import Incident, PostmortemDraft
from tests.e2e.berlin_team import Team, berlin_on, berlin_team
from tests.e2e.helpers import declare, incident_named, run

DAY = date(2026, 3, 6)  # a Friday


def berlin(hour: int, minute: int) -> datetime:
    """A wall-clock time in Berlin on Friday 6 March 2026 (CET, UTC+1), as aware UTC."""
    return berlin_on(DAY, hour, minute)


@pytest.fixture
async def team(database_url: str, tmp_path: Path) -> AsyncIterator[Team]:
    async with berlin_team(database_url, tmp_path, DAY) as team:
        yield team


async def _latest_draft(stack: LocalStack, incident: Incident) -> str:
    async with stack.deps.session() as s:
        rows = await s.exec(select(PostmortemDraft).where(PostmortemDraft.incident_id == incident.id)
                            .order_by(col(PostmortemDraft.version).desc()))
        return rows.first().markdown  # type: ignore[union-attr]


def _summary(stack: LocalStack, channel: str) -> str:
    found = [m for m in stack.driver.bot_messages(channel, include_threads=False)
             if "Postmortem draft v" in str(m.get("text"))]
    return str(found[-1]["blocks"])


def _section(markdown: str, heading: str) -> str:
    """The text of one `## ` section of the draft."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end > 0 else None]


def _said(stack: LocalStack, user: str, channel: str) -> str:
    return "\n".join(str(m.get("text")) for m in stack.driver.ephemerals(user, channel))


async def test_lessons_are_recorded_listed_by_kind_and_prompted_for(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Churn model scores everyone as leaving", options="sev=2 type=config-error")
    ch = incident.channel_name
    helped = (await run(stack, "alice", ch, "help")).text()
    for usage in ("/retro lesson <well|wrong|lucky>", "/retro trigger", "/retro factor", "/retro review"):
        assert usage in helped
    await run(stack, "alice", ch, "lesson well The flag turned the model off within minutes")
    await run(stack, "bob", ch, "postmortem")
    summary = _summary(stack, ch)
    assert "What went wrong? `/retro lesson wrong <what>`" in summary
    assert "Where we got lucky? `/retro lesson lucky <what>`" in summary
    assert "What went well?" not in summary
    markdown = await _latest_draft(stack, incident)
    lessons = _section(markdown, "Lessons learned")
    assert "### What went well\n\n- The flag turned the model off within minutes (@alice)" in lessons
    assert "_None recorded yet: `/retro lesson wrong <what>`._" in lessons

    await run(stack, "alice", ch, "status resolved")
    await run(stack, "alice", ch, "status closed")
    # After the incident too: lessons come up in the review.
    await run(stack, "carol", ch, "lesson wrong Nobody owned the calibration job")
    await run(stack, "dave", ch, "lesson lucky It happened on a Friday with low traffic")
    await run(stack, "carol", ch, "lesson better Something")
    assert "A lesson is `well`, `wrong` or `lucky`" in _said(stack, "carol", ch)
    await run(stack, "bob", ch, "postmortem")
    lessons = _section(await _latest_draft(stack, incident), "Lessons learned")
    assert "### What went wrong\n\n- Nobody owned the calibration job (@carol)" in lessons
    assert "### Where we got lucky\n\n- It happened on a Friday with low traffic (@dave)" in lessons
    assert "lesson" not in _summary(stack, ch)  # nothing left to prompt for


async def test_the_trigger_stands_apart_from_the_root_cause_and_factors_come_from_the_ledger(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality model=fraud@4")
    ch = incident.channel_name
    await run(stack, "carol", ch, "hypothesis The merchant_risk features are stale")
    await run(stack, "carol", ch, "hypothesis A schema change upstream broke the backfill")
    await run(stack, "dave", ch, "hypothesis The paused-DAG alert goes to a muted channel")
    await run(stack, "bob", ch, "hypothesis Seasonal drift in the merchant mix")
    await run(stack, "carol", ch, "confirm H1 partitions are two days old")
    await run(stack, "carol", ch, "confirm H2 the backfill failed on the new column")
    await run(stack, "dave", ch, "confirm H3 the alert went to #muted")
    await run(stack, "bob", ch, "inconclusive H4 PSI is borderline")
    await run(stack, "carol", ch, "trigger H2 at=09:05")
    await run(stack, "dave", ch, "factor Nobody owned the merchant_risk DAG after the reorg")
    await run(stack, "dave", ch, "factor H9")
    assert "There is no H9" in _said(stack, "dave", ch)
    await run(stack, "bob", ch, "postmortem")
    markdown = await _latest_draft(stack, incident)
    summary = markdown.split("## Impact")[0]
    assert "- **Trigger:** A schema change upstream broke the backfill (H2)" in summary
    assert "- **Root cause:** The merchant_risk features are stale (H1, confirmed)" in summary
    analysis = _section(markdown, "Root cause, trigger and contributing factors")
    assert "### Trigger\n\nA schema change upstream broke the backfill (H2, confirmed)" in analysis
    assert "It happened Fri 6 Mar 2026, 09:05 CET (recorded by @carol)." in analysis
    assert "- **09:05** · **Trigger** · A schema change upstream broke the backfill (@carol) *(recorded" in \
        _section(markdown, "Timeline")
    factors = analysis.split("### Contributing factors")[1]
    assert "- The paused-DAG alert goes to a muted channel (H3, confirmed)" in factors
    assert "- Seasonal drift in the merchant mix (H4, inconclusive)" in factors
    assert "- Nobody owned the merchant_risk DAG after the reorg (noted by @dave)" in factors
    assert "H1" not in factors and "H2" not in factors  # the root cause and the trigger are not factors
    assert "List the conditions" not in factors
    assert "Say what set it off" not in _summary(stack, ch)


async def test_related_incidents_peak_severity_and_the_review_show_in_the_draft_and_stats(team: Team) -> None:
    stack = team.stack
    earlier, _ = await declare(stack, "Fraud scorer stale features", options="sev=3 type=data-quality model=fraud@3")
    await run(stack, "bob", earlier.channel_name, "hypothesis The feature pipeline stalled")
    await run(stack, "bob", earlier.channel_name, "confirm H1 the DAG was paused")
    team.at(10, 0)
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality model=fraud@4")
    ch = incident.channel_name
    team.at(10, 20)
    await run(stack, "alice", ch, "sev 1 declines spread to every market")
    team.at(11, 5)
    await run(stack, "alice", ch, "sev 2 contained to one market")
    await run(stack, "alice", ch, "review request <@U0BOB|bob>")
    assert "Draft the postmortem first" in _said(stack, "alice", ch)
    await run(stack, "alice", ch, "status resolved")
    await run(stack, "alice", ch, "postmortem")
    await run(stack, "alice", ch, "review request <@U0BOB|bob> <@U0CAROL|carol> owner=<@U0DAVE|dave>")
    asked = stack.driver.bot_messages(ch)[-1]["text"]
    assert "asked <@U0BOB> and" not in asked and "<@U0BOB>, <@U0CAROL>" in asked
    await run(stack, "erin", ch, "review approve")
    assert "Only the reviewers asked can answer" in _said(stack, "erin", ch)
    await run(stack, "bob", ch, "review approve Clear and blameless")
    await run(stack, "carol", ch, "review changes")
    assert "Say which changes" in _said(stack, "carol", ch)
    await run(stack, "carol", ch, "review changes Add the customer numbers")
    await run(stack, "alice", ch, "postmortem")
    markdown = await _latest_draft(stack, incident)
    head = markdown.split("## Summary")[0]
    assert "| Postmortem owner | @dave |" in head
    assert "| Review | Changes requested: @bob (approved v1), @carol (asked for changes) |" in head
    assert "| Peak severity | SEV1 (SEV2 from 6 Mar 10:00 → SEV1 from 6 Mar 10:20 → SEV2 from 6 Mar 11:05) |" in head
    impact = _section(markdown, "Impact")
    assert "| Time at each severity | SEV2 20m · SEV1 45m · SEV2" in impact
    review = _section(markdown, "Review")
    assert "- @carol: asked for changes to draft v1 on Fri 6 Mar 2026, 11:05 CET — Add the customer numbers" in review
    related = _section(markdown, "Related incidents")
    assert f"`#{earlier.channel_name}` Fraud scorer stale features" in related
    assert "same model: fraud" in related and "Root cause: The feature pipeline stalled" in related
    summary = _summary(stack, ch)
    assert "*Postmortem owner:* @dave · *Review:* changes requested" in summary
    await run(stack, "carol", ch, "review approve")
    await run(stack, "alice", "#general", "stats period=30d")
    stats = str(stack.driver.ephemerals("alice", "#general")[-1]["blocks"])
    assert "*Postmortem reviews:* approved 1 · not drafted 1" in stats


async def test_the_key_timeline_tells_what_happened_in_markdown_people_read(team: Team) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Churn model scores everyone as leaving", options="sev=2 type=config-error")
    ch = incident.channel_name
    await run(stack, "alice", ch, "role scribe <@U0BOB|bob>")
    await run(stack, "alice", ch, "triage impact=09:00")
    await run(stack, "carol", ch, "evidence feature-flag churn_v2:on the flag that shipped the model")
    team.at(9, 40)
    said = await stack.driver.post("dave", ch, "The *v2* model _double-counts_ ~old~ tenure: see "
                                               "https://wiki.example/churn & <ask> @carol")
    await stack.driver.react("bob", ch, said, "pushpin")
    await run(stack, "bob", ch, "note Human error: someone forgot to check the calibration")
    team.at(17, 39)
    await run(stack, "alice", ch, "status mitigated flag churn_v2 turned off at=10:05")
    await run(stack, "alice", ch, "postmortem")
    markdown = await _latest_draft(stack, incident)
    timeline = _section(markdown, "Timeline")
    assert "**Friday 6 March 2026**" in timeline
    assert "- **09:00** · **Impact started**" in timeline
    assert ("- **09:40** · The **v2** model *double-counts* ~~old~~ tenure: see https://wiki.example/churn"
            " & \\<ask> @carol (@dave)") in timeline
    assert "- **10:05** · **Mitigated** · Status investigating → mitigated: flag churn_v2 turned off (@alice) " \
           "*(recorded 6 Mar 17:39)*" in timeline
    for bookkeeping in ("Scribe", "Evidence E1", "Triage template", "(Retro)", "2026-03-06"):
        assert bookkeeping not in timeline
    # The blameless check's note sits under the sentence it flags.
    note = re.search(r"- \*\*09:\d\d\*\* · Human error: someone forgot to check the calibration \(@bob\)\n"
                     r"  > ⚠️ \*\*Blameless check\*\* \(human-error\): .*process gap", timeline)
    assert note, timeline
    appendix = _section(markdown, "Appendix: full timeline")
    assert "(Retro)" not in appendix and "Scribe: @bob" in appendix and "Evidence E1" in appendix
    assert "post(s) in which Retro announced an entry listed here" in appendix


async def test_the_picture_places_lists_and_explains_every_event_and_the_bundle_carries_it_as_png(
        team: Team, tmp_path: Path) -> None:
    stack = team.stack
    incident, _ = await declare(stack, "Ranking model drifts after the catalogue import",
                                options="sev=2 type=data-drift")
    ch = incident.channel_name
    await run(stack, "alice", ch, "triage impact=09:10")
    long_words = "the nightly catalogue import duplicated every seasonal listing and the ranking model " * 9
    for minute in range(12):  # many events within a few minutes of each other
        team.at(10, minute)
        await run(stack, "bob", ch, f"note Step {minute}: {long_words}")
    team.at(10, 30)
    await run(stack, "alice", ch, "status mitigated import rolled back at=10:20")
    await run(stack, "alice", ch, "postmortem")
    fresh = await incident_named(stack, ch)
    async with stack.deps.session() as s:
        doc = await document.build(s, fresh, catalog=stack.deps.catalog)
    pic = layout(doc)
    rows = [t for t in pic.shapes if isinstance(t, Text) and t.size == 10 and t.x == 60 + 80]
    steps = [int(m.group(1)) for t in rows if (m := re.match(r"Step (\d+):", t.text))]
    assert steps == list(range(12))  # in time order
    said = [(f"{m.milestone}: " if m.milestone else "") + readable(m.text, doc["people"]) for m in key_timeline(doc)]
    whole = {w for text in said for w in text.split()}
    for t in rows:  # whole words only; a row cut short ends after a whole word, with an ellipsis
        assert set(t.text.removesuffix(" …").split()) <= whole, t.text
    assert any(t.text.endswith(" …") for t in rows)  # the long notes were cut, at a word
    boxes = [(t.x - (t.fit or 0) if t.anchor == "end" else t.x - (t.fit or 0) // 2 if t.anchor == "middle" else t.x,
              t.y - t.size, t.fit or measure(t.text, t.size), t.size + 2) for t in pic.shapes if isinstance(t, Text)]
    for i, (x, y, w, h) in enumerate(boxes):
        for (x2, y2, w2, h2) in boxes[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "two labels overlap"
    legend = {t.text for t in pic.shapes if isinstance(t, Text) and t.y > rows[-1].y}
    assert {"impact start", "mitigation", "customer impact", "note or trigger", "status or severity change"} <= legend
    assert timeline_png(doc) == timeline_png(doc)  # the same bytes on every run

    doc = checked(template_environment(), doc, stack.deps.catalog)
    write_bundle(template_environment(), doc, tmp_path / "b")
    assert (tmp_path / "b" / PICTURE_PNG).read_bytes() == timeline_png(doc)
    assert f"  {PICTURE_PNG}" in (tmp_path / "b" / MANIFEST).read_text()
    assert verify_bundle(tmp_path / "b").ok
    (tmp_path / "b" / PICTURE_PNG).write_bytes(b"\x89PNG not the picture")
    failed: list[Any] = [line for ok, line in verify_bundle(tmp_path / "b").checks if not ok]
    assert failed and failed[0].startswith(f"{PICTURE_PNG}: SHA-256 is")
