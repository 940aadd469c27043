"""Several scheduler processes on one PostgreSQL send each of 1,000 due reminders exactly once."""

from __future__ import annotations

import pytest

from tests.reminder_load import measure

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_two_scheduler_processes_send_each_reminder_exactly_once(postgres_database_url: str) -> None:
    """Two `retro serve` processes share one database and its 1,000 due reminders."""
    result = await measure(postgres_database_url, n=1000, processes=2, timeout=300)
    assert result["sent"] == 1000
    assert result["delivered"] == 1000, "every reminder reached Slack"
    assert result["duplicates"] == 0, "no reminder reached Slack twice"
