"""Several scheduler processes on one PostgreSQL send each of 1,000 due reminders exactly once."""

from __future__ import annotations

import os

import pytest

from bench.reminders import measure
from tests.conftest import PG_ENV

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_two_scheduler_processes_send_each_reminder_exactly_once() -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"needs PostgreSQL: two `retro serve` processes share one database ({PG_ENV} is not set)")
    result = await measure(url, n=1000, processes=2, timeout=300)
    assert result["sent"] == 1000
    assert result["delivered"] == 1000, "every reminder reached Slack"
    assert result["duplicates"] == 0, "no reminder reached Slack twice"
