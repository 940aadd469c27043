"""Data checks from Slack: two snapshots (files shared in the incident channel, or kept evidence) compared, the
report kept as evidence and summarised in the channel."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.collected import datacheck_summary
from bot.collectors import artifacts, datacheck
from bot.collectors.datacheck import Snapshot, Thresholds
from bot.collectors.record import record_collected, record_failed
from bot.collectors.tables import DataError
from bot.deps import Deps
from bot.errors import CollectorError, NotFoundError, UsageError
from bot.incident import evidence
from bot.incident.evidence import EvidenceInput
from bot.record import chain
from bot.slack.channels import post
from bot.slack.files import file_id_in, read_shared_file
from storage.models import Evidence, Incident

_EVIDENCE = re.compile(r"^[Ee](\d{1,6})$")


@dataclass
class DataCheck:
    """A data check as asked: the two snapshots named, join keys, thresholds, and the usage line for errors."""

    baseline: str
    current: str
    key: list[str]
    thresholds: Thresholds
    usage: str

    @property
    def ref(self) -> str:
        """How the check is named in the evidence list."""
        return f"datacheck baseline={self.baseline} current={self.current}" + (
            f" key={','.join(self.key)}" if self.key else "")


@dataclass
class Checked:
    """The kept evidence, and the error when the check could not run (kept as a failed attempt)."""

    row: Evidence
    error: str | None = None


async def download(client: AsyncWebClient, deps: Deps, file_id: str, ref: str, channel_id: str) -> tuple[str, bytes]:
    """A Slack file shared in `channel_id`: its name and bytes (capped at RETRO_DATACHECK_MAX_BYTES)."""
    chunks: list[bytes] = []
    info, _ = await read_shared_file(
        client, file_id, channel_id=channel_id, cap=deps.settings.retro_datacheck_max_bytes,
        sink=chunks.append, label=f"{ref} ({file_id})" if ref != file_id else None,
        timeout=max(60.0, deps.settings.retro_fetch_timeout), error=CollectorError)
    return str(info.get("name") or file_id), b"".join(chunks)


async def _shared_file(deps: Deps, incident: Incident, name: str) -> str:
    """The id of the latest file with this name shared in the incident channel."""
    assert incident.id is not None
    async with deps.session() as session:
        entries = await chain.entries_of(session, incident.id)
    for e in reversed(entries):
        for f in e.data.get("files") or []:
            if isinstance(f, dict) and f.get("name") == name and f.get("id"):
                return str(f["id"])
    raise NotFoundError(f"No file named `{name}` was shared in this channel; give E<n>, a file link or a file id.")


async def _from_evidence(client: AsyncWebClient, deps: Deps, incident: Incident, ref: str, number: int,
                         usage: str) -> Snapshot:
    async with deps.session() as session:
        row = await evidence.by_number(session, incident.id or 0, number)
    if row.status != "ok":
        raise UsageError(f"E{number} is a failed attempt; it holds no data.", usage)
    source: dict[str, Any] = {"evidence": number}
    if row.file_id:
        name, data = await download(client, deps, row.file_id, ref, incident.channel_id)
        if row.file_sha256 and hashlib.sha256(data).hexdigest() != row.file_sha256:
            raise CollectorError(f"The file of {ref} no longer matches the SHA-256 recorded when it was added.")
        return Snapshot(ref, name, data, {**source, "file_id": row.file_id})
    if row.artifact is not None or row.artifact_path:
        name = str((row.custody.get("artifact") or {}).get("name") or f"E{number}")
        return Snapshot(ref, name, artifacts.load(deps.settings, row), source)
    raise UsageError(f"E{number} is a link without stored content; share the file in the channel or add it with "
                     "`/retro evidence file <file>`.", usage)


async def snapshot(client: AsyncWebClient, deps: Deps, incident: Incident, ref: str, usage: str) -> Snapshot:
    """E<n>, a Slack file link or id, or the name of a file shared in the channel."""
    ref = ref.strip()
    m = _EVIDENCE.match(ref)
    if m:
        return await _from_evidence(client, deps, incident, ref, int(m.group(1)), usage)
    file_id = file_id_in(ref.strip("<>").split("|", 1)[0]) or await _shared_file(deps, incident, ref)
    name, data = await download(client, deps, file_id, ref, incident.channel_id)
    return Snapshot(ref, name, data, {"file_id": file_id})


async def run(client: AsyncWebClient, deps: Deps, incident: Incident, check: DataCheck, *, actor: str) -> Checked:
    """Compare the snapshots and keep the report as evidence (summarised in the channel); a check that cannot run
    is kept as a failed attempt."""
    requested_at = deps.now()
    try:
        base = await snapshot(client, deps, incident, check.baseline, check.usage)
        cur = await snapshot(client, deps, incident, check.current, check.usage)
        collected = await asyncio.to_thread(datacheck.check, base, cur, key=check.key, thresholds=check.thresholds)
    except (CollectorError, DataError) as exc:
        async with deps.session() as session:
            row = await record_failed(session, incident=incident, item=EvidenceInput("dataset", check.ref),
                                      name=datacheck.NAME, version=datacheck.VERSION, source=check.ref,
                                      error=exc.user_message, actor=actor, requested_at=requested_at, now=deps.now())
        return Checked(row, exc.user_message)
    async with deps.session() as session:
        row = await record_collected(session, deps=deps, incident=incident,
                                     item=EvidenceInput("dataset", check.ref, collected.summary), name=datacheck.NAME,
                                     version=datacheck.VERSION, collected=collected, actor=actor,
                                     requested_at=requested_at, now=deps.now())
    await post(client, deps, incident, text=datacheck_summary(row, base, cur, collected.metadata))
    return Checked(row)
