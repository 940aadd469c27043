"""The ledger and reminder domain stays Slack-free (Slack calls live in bot.delivery / bot.scheduler)."""

from __future__ import annotations

from tests.unit.test_structure import ROOT, imports_of

SLACK_FREE = ["actions", "cadence", "hypotheses", "nudges", "prompts", "reminders"]


def test_ledger_and_reminder_domain_never_import_slack() -> None:
    for name in SLACK_FREE:
        bad = {m for m in imports_of(ROOT / "bot" / f"{name}.py")
               if m.split(".")[0] in ("slack_sdk", "slack_bolt", "handlers", "sandbox")}
        assert not bad, f"bot/{name}.py imports {bad}"
        assert not {m for m in imports_of(ROOT / "bot" / f"{name}.py") if m in ("bot.delivery", "bot.scheduler",
                                                                                 "bot.home", "bot.slackops")}

