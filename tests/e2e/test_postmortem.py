"""`/retro postmortem`, the Postmortem button, `/retro stats | search | similar`, end to end through the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.blocks.postmortem import draft_filename
from bot.canonical import sha256_hex
from bot.ids import ActionId
from bot.record import chain
from storage.models import Incident, PostmortemDraft
from tests.e2e.helpers import declare, entries, run


def _thread_files(stack: LocalStack, channel: str, ts: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for message in stack.driver.thread(channel, ts)[1:]:
        for f in message.get("files") or []:
            content = stack.emulator.state.files[f["id"]].content
            assert content is not None
            out[f["name"]] = content
    return out


def _summaries(stack: LocalStack, channel: str) -> list[dict[str, Any]]:
    return [m for m in stack.driver.bot_messages(channel, include_threads=False)
            if "Postmortem draft v" in str(m.get("text"))]


async def _drafts(stack: LocalStack, incident: Incident) -> list[PostmortemDraft]:
    async with stack.deps.session() as s:
        rows = await s.exec(select(PostmortemDraft).where(PostmortemDraft.incident_id == incident.id)
                            .order_by(col(PostmortemDraft.version)))
        return list(rows.all())


async def test_postmortem_posts_a_summary_and_the_draft_and_can_be_rerun(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality model=fraud@4")
    ch = incident.channel_name
    await run(stack, "alice", ch, "note Root cause: human error during the backfill")
    blame = await stack.driver.post("bob", ch, "Honestly this was carol's fault, she should have checked the DAG")
    await stack.driver.post("dave", ch, "chatter that stays in the appendix: dave's fault too, careless me")
    await stack.driver.pin("alice", ch, blame)  # a key event: it is part of the narrative, so it is checked
    await run(stack, "carol", ch, "evidence dataset s3://features/risk/2026-03-10 stale partition "
                                  "snapshot=risk@2026-03-10")
    await stack.settle()

    result = await run(stack, "alice", ch, "postmortem")
    await stack.settle()
    assert "warning" not in result.text()
    summaries = _summaries(stack, ch)
    assert len(summaries) == 1
    summary = str(summaries[0]["blocks"])
    assert "Postmortem draft v1" in summary and "Blameless check" in summary
    assert "human error" in summary and "process gap" in summary
    assert "carol's fault" in summary and "should have" in summary
    assert "careless" not in summary  # the full chat log is a verbatim record, not prose to reframe
    assert "Confirm a hypothesis" in summary
    files = _thread_files(stack, ch, summaries[0]["ts"])
    assert set(files) == {draft_filename(ch), f"{ch}-timeline.png"}
    assert files[f"{ch}-timeline.png"].startswith(b"\x89PNG")
    markdown = files[draft_filename(ch)].decode()
    assert markdown.startswith("# Postmortem: Fraud precision drop")
    assert "s3://features/risk/2026-03-10" in markdown and "risk@2026-03-10" in markdown
    assert "@carol" in markdown and "@bob" in markdown  # display names, not user ids

    drafts = await _drafts(stack, incident)
    assert [d.version for d in drafts] == [1]
    assert drafts[0].markdown == markdown and drafts[0].sha256 == sha256_hex(markdown)
    recorded = [e for e in await entries(stack, incident.id or 0) if e.kind == "postmortem_drafted"]
    assert recorded[0].data["sha256"] == sha256_hex(markdown) and recorded[0].data["version"] == 1

    await run(stack, "bob", ch, "postmortem")
    card = stack.driver.messages(ch)[0]
    assert card["ts"] == incident.card_ts
    await stack.driver.click("carol", action_id=ActionId.POSTMORTEM, channel=ch, message_ts=incident.card_ts,
                             value=str(incident.id))
    await stack.settle()
    drafts = await _drafts(stack, incident)
    assert [d.version for d in drafts] == [1, 2, 3]
    assert [d.drafted_by for d in drafts[1:]] == [stack.driver.user("bob").id, stack.driver.user("carol").id]
    assert len(_summaries(stack, ch)) == 3
    # The draft entry of v1 is part of what v2 was rendered from, and the chain still verifies.
    assert "Postmortem draft v1" in drafts[1].markdown
    async with stack.deps.session() as s:
        fresh = await s.get(Incident, incident.id)
        assert fresh is not None and (await chain.verify_incident(s, fresh)).ok


async def test_a_broken_team_template_fails_before_anything_is_posted(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "_pm_evidence.md.j2").write_text("## Evidence\n{% for e in evidence %}\n{{ e.nope }\n{% endfor %}\n")
    async with local_stack(database_url=database_url, env={"retro_templates_dir": str(tmp_path)}) as stack:
        incident, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
        result = await run(stack, "alice", incident.channel_name, "postmortem")
        await stack.settle()
        assert "Template _pm_evidence.md.j2, line 3" in result.text()
        assert _summaries(stack, incident.channel_name) == []
        assert await _drafts(stack, incident) == []


async def test_a_team_template_overrides_one_partial(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "_pm_evidence.md.j2").write_text("## Evidence (team format)\n{{ evidence | length }} item(s)\n")
    async with local_stack(database_url=database_url, env={"retro_templates_dir": str(tmp_path)}) as stack:
        incident, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
        await run(stack, "alice", incident.channel_name, "postmortem")
        await stack.settle()
        drafts = await _drafts(stack, incident)
        assert "## Evidence (team format)\n0 item(s)" in drafts[0].markdown
        assert "## Hypotheses tested" in drafts[0].markdown  # the rest still comes from Retro's templates


async def test_stats_search_and_similar_across_incidents(stack: LocalStack) -> None:
    first, _ = await declare(stack, "Fraud scorer precision drop", options="sev=2 type=data-quality model=fraud@4")
    await run(stack, "alice", first.channel_name, "evidence log airflow://dags/merchant_risk paused since Monday")
    await run(stack, "bob", first.channel_name, "hypothesis The merchant_risk feature pipeline is stale")
    await run(stack, "bob", first.channel_name, "confirm H1 E1 the DAG was paused")
    await run(stack, "alice", first.channel_name, "status resolved")
    second, _ = await declare(stack, "Fraud false declines", options="sev=1 type=model-regression model=fraud@5")
    await declare(stack, "Search latency", options="sev=3 type=infrastructure model=ranker@2")

    found = await run(stack, "dave", "#general", "search merchant_risk paused")
    assert "Fraud scorer precision drop" in found.text() and "Search latency" not in found.text()
    none = await run(stack, "dave", "#general", "search merchant_risk model=ranker")
    assert "No past incident matches" in none.text()

    similar = await run(stack, "carol", second.channel_name, "similar")
    assert "Fraud scorer precision drop" in similar.text() and "same model: fraud" in similar.text()
    assert "The merchant_risk feature pipeline is stale" in similar.text()
    assert "Search latency" not in similar.text()

    stats = await run(stack, "alice", "#general", "stats period=30d")
    text = stats.text()
    assert "3 incident(s)" in text and "SEV1: 1" in text and "SEV2: 1" in text and "SEV3: 1" in text
    assert "Time to resolve" in text and "missing in 2" in text
    bad = await run(stack, "alice", "#general", "stats period=soon")
    assert "is not a period like 30d" in bad.text()
