"""`retro demo`: the scripted ML incident runs through the sandbox and leaves a bundle that verifies."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot.app import cli
from bot.app.demo import run_scripted
from bot.postmortem.draft import template_environment
from bot.postmortem.export import POSTMORTEM, load_document, render_bundle, verify_bundle


async def test_the_scripted_incident_is_recorded_and_exported(database_url: str, tmp_path: Path) -> None:
    transcript = io.StringIO()
    result = await run_scripted(tmp_path / "bundle", out=transcript, database_url=database_url)
    assert result.verified and verify_bundle(result.folder).ok
    doc = load_document(result.folder)
    kinds = [e["kind"] for e in doc["entries"]]
    assert kinds.count("message") >= 30
    assert [h["verdict"] for h in doc["hypotheses"]] == ["refuted", "refuted", "confirmed"]
    assert sorted(a["kind"] for a in doc["actions"]) == ["guardrail", "monitor", "process", "test"]
    assert [e["data"]["to"] for e in doc["entries"] if e["kind"] == "status_changed"] == ["mitigated", "resolved"]
    assert {r["role"] for r in doc["roles"]} == {"commander", "scribe", "ml-owner", "data-owner", "comms"}
    assert doc["triage"] is not None and doc["incident"]["impact_started_at"] == "2026-03-12T13:05:00.000000Z"
    assert "postmortem_drafted" in kinds and len(doc["evidence"]) == 7
    markdown = (result.folder / POSTMORTEM).read_text()
    assert render_bundle(template_environment(), result.folder) == markdown
    assert "- **Root cause:** The merchant_risk feature pipeline stopped and online features are stale (H3, " \
           "confirmed)" in markdown
    assert "- **Trigger:** A schema change upstream made the merchant_risk backfill fail on Mar 10" in markdown
    assert "- The alert for paused DAGs only goes to a muted channel (noted by @dave)" in markdown
    assert "### Where we got lucky\n\n- End-of-quarter sales had only just started" in markdown
    assert "| Time to detect | 47m | impact start → detection |" in markdown
    assert "- **Data snapshots:** merchant_risk@2026-03-10" in markdown and "@carol" in markdown
    # at=: what was noticed before it was typed sits where it happened, and the metrics count from there.
    assert doc["incident"]["mitigated_at"] == "2026-03-12T14:30:00.000000Z"
    assert "| Impact duration | 1h 25m |" in markdown and "| Time to mitigate | 38m |" in markdown
    key = markdown.split("## Timeline", 1)[1].split("## Triage", 1)[0]
    assert key.index("First declined-payment complaints") < key.index("Precision monitor alert fired") \
        < key.index("Incident declared")
    assert key.index("Status investigating → mitigated") < key.index("Precision back to 0.90") \
        < key.index("Status mitigated → resolved")
    assert "A1 added" not in key and "(Retro)" not in markdown  # bookkeeping and Retro's own posts stay out
    assert "- **13:10** · First declined-payment complaints reached support (@bob) *(recorded 12 Mar 13:59)*" in key
    svg = (result.folder / "timeline.svg").read_text()
    assert ">First declined-payment complaints reached support</text>" in svg
    assert (result.folder / "timeline.png").read_bytes().startswith(b"\x89PNG")
    lines = transcript.getvalue().splitlines()
    assert len(lines) > 60 and "/retro confirm H3 E5 E6" in transcript.getvalue()
    assert "draft v1 posted with the timeline picture; the blameless check flags 1 phrasing(s)" in lines[-1]


async def test_retro_demo_writes_the_bundle_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    assert await asyncio.to_thread(cli.main, ["demo", "-o", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"verified: {folder.resolve()}" in out and "retro verify" in out
    assert verify_bundle(folder).ok
    # The weeks after: the monitor verified stage by stage, the close gate, the card, the recurrence, the figures.
    after = out.split("The weeks after:", 1)[1]
    assert "retro  A1 is verified: staging → canary → prod all passed." in after
    assert "has 2 mitigations not verified" in after and "clicked Close anyway" in after
    assert "saved H3 and A1, A2 as pattern P1 Stale feature partition" in after
    assert "Patterns that may fit: P1 Stale feature partition" in after
    assert "Confirmed by @dave as a recurrence of #inc-20260312-fraud-scorer-precision-drop." in after
    assert "H1 proposed by @dave from pattern P1" in after
    assert "held (no confirmed recurrence) over 30 days: 0% (0 of 1)" in after
    assert "1 closed incident(s) · score 0.57" in after and "• Every hypothesis has a verdict: 1/1" in after
    assert "• Every mitigation verified: A3 is unverified" in after
    assert "• No action item overdue: A2 is overdue since 2026-03-19 (owner @carol)" in after
    markdown = (folder / POSTMORTEM).read_text()  # the bundle is exported after the weeks: they are in it
    assert "## Recurrence" in markdown and "- **P1** Stale feature partition (saved from this incident" in markdown
