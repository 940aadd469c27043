"""A team working in Europe/Berlin, on a clock the test moves: the local stack with `timezone: Europe/Berlin` in
its team config and wall-clock helpers (CET, UTC+1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.app.local import LocalStack, local_stack
from tests.conftest import FakeClock


def berlin_on(day: date, hour: int, minute: int) -> datetime:
    """A Berlin wall-clock time (a winter date, CET) as aware UTC."""
    return datetime(day.year, day.month, day.day, hour - 1, minute, tzinfo=UTC)


@dataclass
class Team:
    """The local stack of a team in Berlin and the clock its bot reads."""

    stack: LocalStack
    clock: FakeClock
    day: date

    def at(self, hour: int, minute: int, day: int | None = None) -> None:
        """Set the bot's clock to a Berlin wall-clock time (on another day of the same month when given)."""
        on = self.day if day is None else self.day.replace(day=day)
        self.clock.current = berlin_on(on, hour, minute)


@asynccontextmanager
async def berlin_team(database_url: str, tmp_path: Path, day: date) -> AsyncIterator[Team]:
    """The stack, its clock at 09:20 Berlin time on `day`."""
    config = tmp_path / "team.yml"
    config.write_text("timezone: Europe/Berlin\n")
    clock = FakeClock(berlin_on(day, 9, 20))
    async with local_stack(database_url=database_url, clock=clock, env={"retro_config": str(config)}) as stack:
        yield Team(stack, clock, day)
