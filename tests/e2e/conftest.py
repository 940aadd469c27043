"""The local stack: the Slack emulator and the real bot, talking signed HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app.local import LocalStack, local_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[LocalStack]:
    """Emulator + bot on the scenario's database, with real time."""
    async with local_stack(database_url=database_url) as s:
        yield s
