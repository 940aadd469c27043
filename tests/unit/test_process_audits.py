"""Process audits below Slack: the month a monthly audit covers, when it fires, and how a gap shows user text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.app.scheduler import audit_trigger
from bot.app.wiring import build_deps
from bot.blocks.audit_report import audit_parts, gap_line
from bot.blocks.kit import MESSAGE_BLOCKS_MAX, MESSAGE_TEXT_BUDGET, text_size
from bot.catalog import load_catalog
from bot.collectors import artifacts
from bot.config import Settings
from bot.insights.audit_log import previous_month
from bot.insights.audits import CHECKS, artifact_problem
from storage.models import Evidence
from tests.reminder_world import catalog_with

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_previous_month_is_a_calendar_month_in_local_time() -> None:
    # 00:30 on 1 March in Berlin is still February in UTC: the audit covers February, in Berlin's days.
    month, period = previous_month(datetime(2026, 2, 28, 23, 30, tzinfo=UTC), BERLIN)
    assert month == "2026-02" and period.label == "February 2026"
    assert period.since == datetime(2026, 2, 1, tzinfo=BERLIN)
    assert period.until < datetime(2026, 3, 1, tzinfo=BERLIN) and (datetime(2026, 3, 1, tzinfo=BERLIN)
                                                                    - period.until).total_seconds() < 1e-3
    month, period = previous_month(datetime(2026, 1, 15, tzinfo=UTC), BERLIN)
    assert month == "2025-12" and period.since == datetime(2025, 12, 1, tzinfo=BERLIN)


def test_the_monthly_audit_fires_on_its_day_and_time_in_the_digest_time_zone() -> None:
    deps = build_deps(Settings.model_validate({"database_url": "sqlite+aiosqlite:///:memory:"}))
    deps.catalog = catalog_with(digest={"channel": "#ml", "timezone": "Europe/Berlin"},
                                audit={"day_of_month": 3, "time": "08:15"})
    fire = audit_trigger(deps).get_next_fire_time(None, datetime(2026, 3, 10, tzinfo=UTC))
    assert fire == datetime(2026, 4, 3, 8, 15, tzinfo=BERLIN)


def test_a_gap_shows_user_text_inert() -> None:
    line = gap_line({"item": "H2", "says": "has no verdict", "text": "<!channel> *now* <@U0BOB>"})
    assert line.startswith("• *H2* has no verdict — _") and "<!channel>" not in line and "<@U0BOB>" not in line
    hidden = gap_line({"item": "H2", "says": "has no verdict", "text": "Payroll model leaks"}, private=True)
    assert hidden == "• *H2* has no verdict" and "Payroll" not in hidden
    assert gap_line({"item": "", "says": "no postmortem was drafted.", "text": ""}) == \
        "• no postmortem was drafted"


def test_the_configuration_in_the_after_the_incident_page_is_the_shipped_default() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "after-the-incident.md").read_text()
    block = page.split("## Configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = yaml.safe_load(block)
    shipped = load_catalog()
    assert set(shown) == {"verify", "recurrence", "audit", "patterns"}
    for key, values in shown.items():
        assert values == getattr(shipped, key).model_dump(), key


def _evidence(number: int, **fields: Any) -> Evidence:
    return Evidence(team_id="T0TEST", incident_id=1, number=number, kind="file", ref="report.csv", added_by="U0ALICE",
                    sha256="0" * 64, **fields)


async def test_an_artifact_file_changed_or_gone_is_a_gap(tmp_path: Path) -> None:
    settings = Settings.model_validate({"database_url": "sqlite+aiosqlite:///:memory:", "retro_artifacts_dir": tmp_path,
                                        "retro_artifact_inline_max": 16})
    data = b"feature,psi\nmerchant_risk,0.41\n" * 4
    stored = artifacts.store(settings, data, media_type="text/csv")
    assert stored.path is not None and stored.inline is None
    row = _evidence(3, artifact_path=stored.path,
                    custody={"artifact": stored.record(name="report.csv", media_type="text/csv")})
    assert await artifact_problem(settings, row) is None
    (tmp_path / stored.path).write_bytes(data.replace(b"0.41", b"0.04"))
    assert await artifact_problem(settings, row) == "the stored artifact does not match its recorded SHA-256."
    (tmp_path / stored.path).unlink()
    assert await artifact_problem(settings, row) == "its artifact file is missing from the artifacts folder."
    assert await artifact_problem(settings, _evidence(4)) is None  # nothing stored, nothing to check


def test_a_long_audit_is_split_within_slack_caps_and_loses_no_incident() -> None:
    gaps = [{"item": f"H{n}", "says": "has no verdict", "text": "w" * 3000} for n in range(1, 8)]
    incidents = [{"id": n, "channel_id": f"C{n:08d}", "channel_name": f"inc-{n}", "title": "t" * 500,
                  "private": n % 2 == 0, "closed_at": None, "score": "0.14",
                  "checks": {key: {"ok": False, "gaps": gaps if key == "verdicts" else []} for key in CHECKS}}
                 for n in range(1, 61)]
    report = {"period": {"label": "90d"}, "incidents": incidents, "score": "0.14",
              "checks": {key: [0, 60] for key in CHECKS}}
    parts = audit_parts(report, number=7, sha256="ab" * 32)
    assert len(parts) > 1 and all(len(blocks) <= MESSAGE_BLOCKS_MAX and text_size(blocks) <= MESSAGE_TEXT_BUDGET
                                  for _, blocks in parts)
    text = "\n".join(str(blocks) for _, blocks in parts)
    assert all(f"<#C{n:08d}>" in text for n in range(1, 61))
    assert "(part 1 of" in parts[0][0]


async def test_the_scheduler_registers_the_monthly_audit_only_with_a_digest_channel_and_monthly_on() -> None:
    from bot.app.scheduler import ReminderScheduler

    deps = build_deps(Settings.model_validate({"database_url": "sqlite+aiosqlite:///:memory:"}))
    for digest, monthly, expected in (({"channel": "#ml", "timezone": "Europe/Berlin"}, True, True),
                                      ({"channel": "#ml"}, False, False), ({"channel": None}, True, False)):
        deps.catalog = catalog_with(digest=digest, audit={"monthly": monthly, "day_of_month": 3, "time": "08:15"})
        scheduler = ReminderScheduler(deps, client=None)  # type: ignore[arg-type]
        await scheduler.start()
        try:
            assert scheduler._aps is not None
            job = scheduler._aps.get_job("retro-audit")
            assert (job is not None) is expected, (digest, monthly)
            if job is not None:
                assert str(job.trigger) == str(audit_trigger(deps))
        finally:
            if scheduler._aps is not None:
                scheduler._aps.shutdown(wait=False)
    await deps.close()
