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
    assert "**Root cause (confirmed, H3):** The merchant_risk feature pipeline stopped" in markdown
    assert "| Time to detect | 47m | impact start → detection |" in markdown
    assert "- **Data snapshots:** merchant_risk@2026-03-10" in markdown and "@carol" in markdown
    lines = transcript.getvalue().splitlines()
    assert len(lines) > 60 and "/retro confirm H3 E5 E6" in transcript.getvalue()
    assert "draft v1 posted with the timeline picture; the blameless check flags 1 phrasing(s)" in lines[-1]


async def test_retro_demo_writes_the_bundle_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    assert await asyncio.to_thread(cli.main, ["demo", "-o", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"verified: {folder.resolve()}" in out and "retro verify" in out
    assert verify_bundle(folder).ok
