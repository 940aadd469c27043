"""Events API bodies for the ingest scenarios, and a way to hold the ingest writer still while a batch gathers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text

from storage.db import create_engine, is_sqlite
from tests.databases import sqlite_file
from tests.e2e.faults import TEAM, WriteLock


def message(event_id: str, n: int, channel: str, words: str) -> dict[str, Any]:
    """A `message` event as Slack delivers it (ts derived from `n`)."""
    ts = f"{1_700_100_000 + n}.000100"
    return {"token": "t", "team_id": TEAM, "api_app_id": "A0RETRO", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
            "event": {"type": "message", "channel": channel, "user": "U0BOB", "ts": ts, "text": words,
                      "event_ts": ts, "channel_type": "channel"}}


@asynccontextmanager
async def writer_held(url: str, incident_id: int) -> AsyncIterator[None]:
    """Another connection holds what the ingest writer needs next: SQLite's write lock, the incident's row lock."""
    if is_sqlite(url):
        async with WriteLock(sqlite_file(url)):
            yield
        return
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT id FROM incident WHERE id = :i FOR UPDATE"), {"i": incident_id})
            yield
    finally:
        await engine.dispose()
