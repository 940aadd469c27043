"""Recording a notification before it is answered: one notice row per request body, one group row per alert group.

The HTTP handler calls `record` and answers 200 only after its commit; the Slack work happens later in whichever
process claims the group (bot/alerts/claims.py). The very same body sent twice (Alertmanager retries a notification
whose answer it did not get) is recognised by its SHA-256 and recorded once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import case
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts.batch import AlertBatch
from bot.canonical import sha256_hex
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.core import conflict_insert, table_of

PENDING, DONE, FAILED = "pending", "done", "failed"

_G = table_of(AlertGroupRow)
_N = table_of(AlertNotice)


class AlertSignal:
    """Wakes the alert runner of this process right after an intake, so that it need not wait for its sweep."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        """Something was recorded."""
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait until woken or `timeout` seconds pass; True when woken. Clears the signal."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True

    async def close(self) -> None:
        """Nothing to finish: the rows are the truth."""


def key_hash(group_key: str) -> str:
    """The fixed-size key a group is found by (group keys can be long)."""
    return sha256_hex(group_key)


async def record(session: AsyncSession, *, team_id: str, batch: AlertBatch, raw_sha256: str,
                 now: datetime) -> tuple[AlertNotice, bool]:
    """Store one notification and mark its group pending; commits. Returns the notice and whether it is new (False:
    the same body was recorded before, and that notice is returned untouched)."""
    existing = await _notice(session, team_id, raw_sha256)
    if existing is not None:
        return existing, False
    dialect = session.get_bind().dialect.name
    starts = batch.starts_at
    # The upsert locks the group row until the commit, so a worker releasing the group waits for this notice
    # (bot/alerts/claims.py `release_group`) instead of missing it.
    upsert = conflict_insert(dialect, _G).values(
        team_id=team_id, source=batch.source, key_hash=key_hash(batch.group_key), group_key=batch.group_key,
        status=batch.status, pending=True, first_starts_at=starts, updated_at=now)
    earlier = starts if starts is not None else _G.c.first_starts_at
    upsert = upsert.on_conflict_do_update(
        index_elements=[_G.c.team_id, _G.c.source, _G.c.key_hash],
        set_={"status": batch.status, "pending": True, "updated_at": now,
              "first_starts_at": case((_G.c.first_starts_at.is_(None), earlier),
                                      (_G.c.first_starts_at > earlier, earlier),
                                      else_=_G.c.first_starts_at)})
    group_id = int((await session.exec(upsert.returning(_G.c.id))).scalar_one())
    insert = conflict_insert(dialect, _N).values(
        group_id=group_id, team_id=team_id, payload_sha256=raw_sha256, batch=batch.as_json(), received_at=now,
        status=PENDING, attempts=0).on_conflict_do_nothing(index_elements=[_N.c.team_id, _N.c.payload_sha256])
    new_id = (await session.exec(insert.returning(_N.c.id))).scalar_one_or_none()
    await session.commit()
    notice = await _notice(session, team_id, raw_sha256)
    assert notice is not None  # inserted now, or by a concurrent request with the same body
    return notice, new_id is not None


async def _notice(session: AsyncSession, team_id: str, raw_sha256: str) -> AlertNotice | None:
    found = await session.exec(select(AlertNotice).where(AlertNotice.team_id == team_id,
                                                         AlertNotice.payload_sha256 == raw_sha256))
    return found.first()
