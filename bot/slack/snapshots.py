"""Data checks from Slack: two snapshots (files shared in the incident channel, kept evidence, or data kept in
MLflow) compared, the report kept as evidence and summarised in the channel."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.collected import chart_failed_text, datacheck_summary
from bot.collectors import artifacts, comparison, datacheck, mlflow_data
from bot.collectors.columns import DataError
from bot.collectors.comparison import Thresholds
from bot.collectors.datacheck import Snapshot
from bot.collectors.http import mib
from bot.collectors.mlflow_data import MlflowInput
from bot.collectors.record import record_collected, record_failed
from bot.collectors.spool import Folder, Spool
from bot.collectors.tables import emptiness
from bot.collectors.worker import Slots
from bot.config import Settings
from bot.deps import Deps
from bot.errors import CollectorError, UsageError
from bot.incident import evidence
from bot.incident.evidence import EvidenceInput
from bot.slack.channels import post
from bot.slack.collect import share_charts
from bot.slack.files import read_shared_file, shared_file_id
from storage.models import Evidence, Incident

log = logging.getLogger("retro.datacheck")
_EVIDENCE = re.compile(r"^[Ee](\d{1,6})$")
POSTED_CHARTS = 4  # charts posted with a check's summary (the most drifted features); all are kept in the evidence


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


async def download(client: AsyncWebClient, deps: Deps, file_id: str, ref: str, channel_id: str,
                   folder: Folder) -> tuple[str, Spool]:
    """A Slack file shared in `channel_id`: its name, and the file streamed into a private file of `folder`, hashed
    on the way (capped at RETRO_DATACHECK_MAX_BYTES; never held whole in memory)."""
    label = f"{ref} ({file_id})" if ref != file_id else None
    cap = deps.settings.retro_datacheck_max_bytes
    out = folder.writer(cap=cap, too_large=f"{label or f'file {file_id}'} is larger than the {mib(cap)} limit.")
    try:
        info, _ = await read_shared_file(
            client, file_id, settings=deps.settings, channel_id=channel_id, cap=cap, sink=out.write, label=label,
            timeout=max(60.0, deps.settings.retro_fetch_timeout), error=CollectorError)
    finally:
        out.close()
    return str(info.get("name") or file_id), out.done()


async def _artifact(deps: Deps, row: Evidence, ref: str, folder: Folder) -> Spool:
    """A collected artifact copied into a private file of `folder` (in a thread), checked against its digest."""
    where = artifacts.located(deps.settings, row)
    if isinstance(where, bytes):
        spooled = folder.put(where)
    else:
        cap = deps.settings.retro_datacheck_max_bytes
        out = folder.writer(cap=cap, too_large=f"{ref} is larger than the {mib(cap)} limit.")
        spooled = await asyncio.to_thread(out.copy, where)
    expected = artifacts.recorded_sha256(row)
    if expected and spooled.sha256 != expected:
        raise artifacts.mismatch(row)
    return spooled


@dataclass(frozen=True)
class Located:
    """A snapshot found but not read yet: a Slack file (`file_id`), an evidence item (`row`), or MLflow data."""

    ref: str
    file_id: str | None
    row: Evidence | None = None
    mlflow: MlflowInput | None = None


async def locate(deps: Deps, incident: Incident, ref: str, usage: str) -> Located:
    """E<n>, a Slack file link or id, the name of a file shared in the channel, or MLflow's `runs:/…` or
    `models:/…`; refused here if it holds no data or is malformed."""
    ref = ref.strip()
    if (remote := mlflow_data.parse(ref, deps.settings, usage)) is not None:
        return Located(ref, None, mlflow=remote)
    m = _EVIDENCE.match(ref)
    if m is None:
        return Located(ref, await shared_file_id(deps, incident.id or 0, ref,
                                                 hint="Give E<n>, a file's name as listed, its id (F…) or its link."))
    number = int(m.group(1))
    async with deps.session() as session:
        row = await evidence.by_number(session, incident.id or 0, number)
    if row.status != "ok":
        raise UsageError(f"E{number} is a failed attempt; it holds no data.", usage)
    if not (row.file_id or row.artifact is not None or row.artifact_path):
        raise UsageError(_no_data(row), usage)
    return Located(ref, row.file_id, row)


def _no_data(row: Evidence) -> str:
    """Why E<n> cannot be compared, and what to give instead (never: add it again the way it was added)."""
    ref = row.ref[:120]
    if row.kind == "file":  # recorded by name before names were looked up: the file itself may still be here
        return (f"E{row.number} names the file `{ref}` but holds none of its bytes (it was recorded before Retro "
                f"looked file names up). Give the file itself: `{ref}` if it was shared in this channel, or its id or "
                "link.")
    return (f"E{row.number} is {row.kind} evidence that points elsewhere (`{ref}`); Retro holds none of its data. A "
            "data check reads a file shared in this channel (its name, id or link) or data Retro collected.")


async def read(client: AsyncWebClient, deps: Deps, incident: Incident, at: Located, folder: Folder) -> Snapshot:
    """A located snapshot, streamed into `folder`; a file added as evidence must still match the SHA-256 recorded
    then."""
    if at.mlflow is not None:
        return await mlflow_data.read(deps.settings, at.mlflow, folder)
    row = at.row
    if row is None:
        assert at.file_id is not None
        name, spooled = await download(client, deps, at.file_id, at.ref, incident.channel_id, folder)
        return Snapshot(at.ref, name, spooled, {"file_id": at.file_id})
    source: dict[str, Any] = {"evidence": row.number}
    if row.file_id:
        name, spooled = await download(client, deps, row.file_id, at.ref, incident.channel_id, folder)
        if row.file_sha256 and spooled.sha256 != row.file_sha256:
            raise CollectorError(f"The file of {at.ref} no longer matches the SHA-256 recorded when it was added.")
        return Snapshot(at.ref, name, spooled, {**source, "file_id": row.file_id})
    name = str((row.custody.get("artifact") or {}).get("name") or f"E{row.number}")
    return Snapshot(at.ref, name, await _artifact(deps, row, at.ref, folder), source)


def _keep_inputs(settings: Settings, *snaps: Snapshot) -> None:
    """Keep both snapshots under their digests, so the check can be run again from the record and its bundle."""
    for snap in snaps:
        assert isinstance(snap.data, Spool)
        try:
            artifacts.keep_input(settings, snap.data.path, snap.data.sha256, snap.data.size)
        except OSError as exc:  # the check stands; running it again will say its input was not kept
            log.warning("snapshot %s not kept: %s", snap.data.sha256, exc.strerror or exc)


def _refuse_empty(base: Snapshot, cur: Snapshot, usage: str) -> None:
    """An input with nothing to compare is refused (nothing is recorded), saying which and why."""
    for side, snap in (("baseline", base), ("current", cur)):
        assert isinstance(snap.data, Spool)
        if (why := emptiness(snap.name, snap.data.path)) is not None:
            where = f" ({snap.ref})" if snap.ref != snap.name else ""
            raise UsageError(f"The {side} snapshot{where} holds nothing to compare: {why}. Nothing was compared or "
                             "recorded; check the export that wrote it.", usage)


class CheckWorkers(Slots):
    """The data checks this process runs at once (RETRO_DATACHECK_CONCURRENCY), and those waiting their turn."""


def check_workers(settings: Settings) -> CheckWorkers:
    """This process's data-check workers, from the settings (the wiring provides them to the deps)."""
    return CheckWorkers(
        settings.retro_datacheck_concurrency, settings.retro_datacheck_max_queued,
        busy=f"Every data-check worker is busy and the queue is full ({settings.retro_datacheck_max_queued} waiting, "
             "RETRO_DATACHECK_MAX_QUEUED). Nothing was recorded; try again in a few minutes.")


async def run(client: AsyncWebClient, deps: Deps, incident: Incident, check: DataCheck, *, actor: str,
              on_queued: Callable[[int], Awaitable[None]]) -> Checked:
    """Compare the snapshots in a bounded worker, one check at a time per free worker (`on_queued(place)` when it
    must wait), and keep the report as evidence (summarised in the channel); a check that cannot run is kept as a
    failed attempt."""
    requested_at = deps.now()
    located = [await locate(deps, incident, ref, check.usage) for ref in (check.baseline, check.current)]
    try:
        with Folder() as folder:  # the snapshots' files, removed however the check ends
            async with deps.get(CheckWorkers).turn(on_queued):
                base, cur = [await read(client, deps, incident, at, folder) for at in located]
                _refuse_empty(base, cur, check.usage)
                collected = await datacheck.run_check(base, cur, key=check.key, thresholds=check.thresholds,
                                                      settings=deps.settings)
                await asyncio.to_thread(_keep_inputs, deps.settings, base, cur)
    except (CollectorError, DataError) as exc:
        async with deps.session() as session:
            row = await record_failed(session, incident=incident, item=EvidenceInput("dataset", check.ref),
                                      name=comparison.NAME, version=comparison.VERSION, source=check.ref,
                                      error=exc.user_message, actor=actor, requested_at=requested_at, now=deps.now())
        return Checked(row, exc.user_message)
    async with deps.session() as session:
        row = await record_collected(session, deps=deps, incident=incident,
                                     item=EvidenceInput("dataset", check.ref, collected.summary),
                                     name=comparison.NAME, version=comparison.VERSION, collected=collected,
                                     actor=actor, requested_at=requested_at, now=deps.now())
    text = datacheck_summary(row, base, cur, collected.metadata)
    charts = [f for f in collected.files if f.media_type == "image/png"][:POSTED_CHARTS]
    error = await share_charts(client, deps, incident, row, charts, text) if charts else None
    if error is not None or not charts:  # the summary alone, saying where the charts are when they could not go
        await post(client, deps, incident, text=text + (f"\n{chart_failed_text(row.number, error)}" if error else ""))
    return Checked(row)
