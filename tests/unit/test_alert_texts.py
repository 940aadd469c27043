"""Messages about alerts: what an alert says is shown, never obeyed as markup or a ping."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.alerts.batch import Alert
from bot.blocks.alert_texts import MAX_LINES, alert_line, alerts_text, announce_text
from bot.catalog import load_catalog
from storage.models import Incident

T0 = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
LOUD = "<!channel> <!here|here> <@U0ALICE> <!subteam^S1|@oncall> @everyone <https://evil.example|click>"


def incident(*, private: bool) -> Incident:
    return Incident(id=7, team_id="T1", channel_id="C0INC", channel_name="inc-x", title=f"Drop {LOUD}", severity=2,
                    category="data-drift", private=private, declared_by="U0BOT", created_at=T0)


def test_alert_words_are_shown_inert() -> None:
    alert = Alert("fp", "firing", {"alertname": f"Drift {LOUD}"}, {"summary": f"PSI {LOUD}"}, T0, None, "")
    for text in (alert_line(alert, "firing"), announce_text(incident(private=False), load_catalog(), T0)):
        assert "<!channel>" not in text and "<!here" not in text and "<@U0ALICE>" not in text, text
        assert "<!subteam" not in text and "<https://evil" not in text and "@everyone" not in text, text
    line = alert_line(alert, "firing")
    assert line.startswith("• *Drift ") and "firing since <!date^" in line and "PSI" in line


def test_a_resolved_line_says_when_and_long_lists_are_counted() -> None:
    done = Alert("fp", "resolved", {"alertname": "Drift"}, {}, T0, T0.replace(hour=14), "")
    assert "resolved at <!date^" in alert_line(done, "resolved") and "14:05 UTC" in alert_line(done, "resolved")
    text = alerts_text("heading", [f"line {n}" for n in range(MAX_LINES + 3)])
    assert text.splitlines()[-1] == "…and 3 more (all of them are evidence)"
    assert len(text.splitlines()) == MAX_LINES + 2


def test_a_private_incident_is_announced_without_its_title_or_channel() -> None:
    said = announce_text(incident(private=True), load_catalog(), T0)
    assert "Drop" not in said and "C0INC" not in said and "private SEV2 incident" in said
    public = announce_text(incident(private=False), load_catalog(), None)
    assert "*Drop" in public and "<#C0INC>" in public and "firing since" not in public
