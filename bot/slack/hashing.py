"""Chaining the digests of files shared in incident channels, from the rows the ingest writer left with each message
(bot.record.pending_files): right after the ack, and by the scheduler's pass after a restart or a crash.

Any number of processes may run both: a row turns `done` in the transaction that chains its `file_hashed` entry,
and only while it is still as this process found it, so each file is chained once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.record import chain, pending_files
from bot.slack.files import shared_file_record
from bot.slack.installs import client_for
from storage.models import Incident, PendingFileHash

log = logging.getLogger("retro.files")
# A claim outlives the slowest hash (files.info waiting out rate limits, then a 60 s download) with room to spare.
LEASE = timedelta(minutes=10)
BATCH = 20


async def _channel(deps: Deps, incident_id: int) -> str:
    async with deps.session() as session:
        incident = await session.get(Incident, incident_id)
    return incident.channel_id if incident is not None else ""


async def _chain(deps: Deps, row: PendingFileHash, data: dict[str, Any], *, worker: str | None) -> bool:
    """Chain the row's `file_hashed` entry and mark it done, together; False when another process got there first."""
    assert row.id is not None
    async with deps.session() as session:
        if not await pending_files.finish(session, row.id, worker=worker, now=deps.now()):
            await session.rollback()
            return False
        await chain.append(session, incident_id=row.incident_id, kind="file_hashed", at=deps.now(),
                           actor=row.user_id, slack_ts=row.message_ts, data={**data, "message_ts": row.message_ts})
        await session.commit()
    return True


async def hash_message_files(client: AsyncWebClient, deps: Deps, *, incident_id: int, message_ts: str) -> int:
    """After the ack: hash the files one message shared and chain each digest (or why it failed); returns how many
    this process chained (a row another process took over is left to it)."""
    async with deps.session() as session:
        rows = await pending_files.waiting(session, incident_id=incident_id, message_ts=message_ts)
    if not rows:
        return 0
    channel = await _channel(deps, incident_id)
    done = 0
    for row in rows:
        data = await shared_file_record(client, deps.settings, row.file_id, channel_id=channel)
        done += await _chain(deps, row, data, worker=None)
    return done


async def _record_for(client: AsyncWebClient, deps: Deps, row: PendingFileHash, channel: str) -> dict[str, Any]:
    if row.attempts >= pending_files.MAX_ATTEMPTS:
        return {"file": {"id": row.file_id}, "error": f"not hashed: gave up after {row.attempts} attempts"}
    try:
        team_client = await client_for(client, deps, row.team_id)
    except SlackApiError as exc:
        return {"file": {"id": row.file_id}, "error": f"Slack could not give file {row.file_id}: "
                                                       f"{exc.response.get('error')}."}
    return await shared_file_record(team_client, deps.settings, row.file_id, channel_id=channel)


async def finish_pending(client: AsyncWebClient, deps: Deps, *, worker: str, stop: asyncio.Event | None = None,
                         every: bool = False, batch: int = BATCH) -> int:
    """The scheduler's pass: claim rows left behind (`every`: all pending ones, as at a process's start; otherwise
    those past their grace) and chain their digests; returns how many it chained."""
    done = 0
    channels: dict[int, str] = {}
    while not (stop is not None and stop.is_set()):
        async with deps.session() as session:
            rows = await pending_files.claim(session, worker=worker, now=deps.now(), lease=LEASE, limit=batch,
                                             every=every)
        if not rows:
            break
        for n, row in enumerate(rows):
            if stop is not None and stop.is_set():
                async with deps.session() as session:
                    await pending_files.release(session, worker=worker, ids=[r.id or 0 for r in rows[n:]])
                break
            if row.incident_id not in channels:
                channels[row.incident_id] = await _channel(deps, row.incident_id)
            try:
                data = await _record_for(client, deps, row, channels[row.incident_id])
                done += await _chain(deps, row, data, worker=worker)
            except Exception:  # a database outage or a bug: the claim expires and the row is tried again
                log.exception("file %s of incident %s was not hashed; it is tried again later", row.file_id,
                              row.incident_id)
    if done:
        log.info("pending file hashes chained", extra={"count": done, "worker": worker})
    return done
