"""The local stack: the Slack emulator and the real bot, talking signed HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import pytest

from bot.app.local import LocalStack, local_stack
from tests.conftest import FakeClock
from tests.reminder_world import T0


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[LocalStack]:
    """Emulator + bot on the scenario's database, with real time."""
    async with local_stack(database_url=database_url) as s:
        yield s


@pytest.fixture
def t0() -> FakeClock:
    """A clock the test moves, from Monday 2 March 2026, 08:00 UTC (reminders go out at 09:00 UTC)."""
    return FakeClock(T0)


@pytest.fixture
async def clocked(database_url: str, t0: FakeClock) -> AsyncIterator[LocalStack]:
    """The local stack on the test's clock, the periodic scheduler off: the test sweeps by hand."""
    async with local_stack(database_url=database_url, clock=t0) as s:
        yield s


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test (`item.rep_call`), so fixtures can tell at teardown that it failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
