"""How long Retro remembers that it handled an Events API delivery.

Each delivery's (team_id, event_id) claim (`ProcessedEvent`, written by the ingest writer) makes Slack's retries of
it no-ops. Slack retries a delivery at most three times, the last about five minutes after the first failure
(../shared/slack/behaviours.md, "Events API retries"), so a claim much older than that protects nothing, and kept
forever the table only grows. Claims older than the window are deleted in bounded chunks, each in its own
transaction, so that the ingest writer (SQLite's single writer above all) never waits long behind the pruning.
Deleting is idempotent: every replica may run it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import table_of
from storage.models import ProcessedEvent

MIN_HOURS = 1  # RETRO_EVENT_DEDUPE_HOURS may not go below this: ten times Slack's whole retry schedule
CHUNK = 5000

_CLAIMS = table_of(ProcessedEvent)


async def prune(session: AsyncSession, *, hours: int, now: datetime, chunk: int = CHUNK) -> int:
    """Delete the claims received more than `hours` before `now`; returns how many went; commits each chunk."""
    if hours < MIN_HOURS:
        raise ValueError(f"event claims must be kept at least {MIN_HOURS} hour(s), longer than Slack retries")
    c = _CLAIMS.c
    oldest = select(c.id).where(c.received_at < now - timedelta(hours=hours)).order_by(c.id).limit(chunk)
    removed = 0
    while True:
        result = await session.exec(delete(_CLAIMS).where(c.id.in_(oldest)))
        await session.commit()
        count = int(result.rowcount or 0)
        removed += count
        if count < chunk:
            return removed
