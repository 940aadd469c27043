"""Data retention: purge raw message text of long-closed incidents, keeping every hash.

The chain commits to a message's text through its SHA-256 (`text_sha256`), so dropping the text leaves the chain
verifiable: what remains proves that a message existed, who wrote it, when, and that it was not altered while kept.
Kept: every entry, its digests and hashes, authors, times, notes, evidence, hypotheses, actions and postmortem drafts.
Purged: the text of channel messages and their edits (`message`, `message_edited`, `bot_message`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.record import chain
from storage.models import Incident, TimelineEntry

PURGED_KINDS = ("message", "message_edited", "bot_message")


async def purge(session: AsyncSession, *, days: int, now: datetime) -> dict[int, int]:
    """Purge message text of incidents closed more than `days` ago; returns entries purged per incident; commits."""
    cutoff = now - timedelta(days=days)
    rows = await session.exec(select(Incident.id).where(Incident.status == "closed",
                                                        col(Incident.closed_at) < cutoff))
    purged: dict[int, int] = {}
    for incident_id in [i for i in rows.all() if i is not None]:
        result = await session.exec(
            update(TimelineEntry)
            .where(col(TimelineEntry.incident_id) == incident_id, col(TimelineEntry.kind).in_(PURGED_KINDS),
                   col(TimelineEntry.text).is_not(None))
            .values(text=None)
        )
        count = int(result.rowcount or 0)
        if count:
            await chain.append(session, incident_id=incident_id, kind="retention_purged", at=now,
                               data={"entries": count, "retention_days": days})
            purged[incident_id] = count
        await session.commit()
    return purged
