"""Names the web view asks Slack for, for the people Retro keeps no name of: a page waits at most WAIT seconds for
them (what comes later is kept for the next page), and an id Slack could not name is not asked again for an hour."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.slack.installs import client_for
from bot.slack.people import names_of

WAIT = 1.0  # seconds of a page's time
MISS_TTL = 3600.0
MAX_MISSES = 10_000


class NameAsker:
    """One process's lookups of names for the web view."""

    def __init__(self) -> None:
        self._missed: dict[tuple[str, str], float] = {}
        self._running: set[asyncio.Task[dict[str, str]]] = set()

    async def ask(self, bolt: AsyncApp, deps: Deps, team_id: str, ids: Iterable[str]) -> dict[str, str]:
        """The names Slack gives for these ids within WAIT seconds (those it gives later are kept all the same)."""
        now = time.monotonic()
        wanted = {i for i in ids if self._missed.get((team_id, i), 0.0) < now}
        if not wanted:
            return {}

        async def lookup() -> dict[str, str]:
            return await names_of(await client_for(bolt.client, deps, team_id), deps, team_id, wanted)

        task = asyncio.ensure_future(lookup())
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(done, team_id, wanted))
        try:
            return await asyncio.wait_for(asyncio.shield(task), WAIT)
        except Exception:  # too slow, or Slack unreachable: a name is a nicety, the page shows the id
            return {}

    def _finished(self, task: asyncio.Task[dict[str, str]], team_id: str, wanted: set[str]) -> None:
        self._running.discard(task)
        named = {} if task.cancelled() or task.exception() is not None else task.result()
        if len(self._missed) > MAX_MISSES:
            self._missed.clear()
        until = time.monotonic() + MISS_TTL
        for uid in wanted - set(named):
            self._missed[(team_id, uid)] = until
