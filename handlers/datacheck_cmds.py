"""`/retro datacheck`: compare two data snapshots shared in the incident channel, keep the report as evidence."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from sqlmodel import col, select

from bot.blocks import echo
from bot.collectors import artifacts, datacheck
from bot.collectors.datacheck import Snapshot, Thresholds
from bot.collectors.record import record_collected, record_failed
from bot.collectors.tables import DataError
from bot.errors import CollectorError, NotFoundError, UsageError
from bot.incident.evidence import EvidenceInput
from bot.record import chain
from bot.slack import channels
from handlers.context import Ctx
from handlers.parsing import USAGE, Parsed
from storage.models import Evidence, Incident

_EVIDENCE = re.compile(r"^[Ee](\d{1,6})$")


async def download(ctx: Ctx, file_id: str, ref: str, channel_id: str) -> tuple[str, bytes]:
    """A Slack file shared in `channel_id`: its name and bytes (capped at RETRO_DATACHECK_MAX_BYTES)."""
    chunks: list[bytes] = []
    info, _ = await channels.read_shared_file(
        ctx.client, file_id, channel_id=channel_id, cap=ctx.deps.settings.retro_datacheck_max_bytes,
        sink=chunks.append, label=f"{ref} ({file_id})" if ref != file_id else None,
        timeout=max(60.0, ctx.deps.settings.retro_fetch_timeout), error=CollectorError)
    return str(info.get("name") or file_id), b"".join(chunks)


async def _shared_file(ctx: Ctx, incident: Incident, name: str) -> str:
    """The id of the latest file with this name shared in the incident channel."""
    assert incident.id is not None
    async with ctx.deps.session() as session:
        entries = await chain.entries_of(session, incident.id)
    for e in reversed(entries):
        for f in e.data.get("files") or []:
            if isinstance(f, dict) and f.get("name") == name and f.get("id"):
                return str(f["id"])
    raise NotFoundError(f"No file named `{name}` was shared in this channel; give E<n>, a file link or a file id.")


async def _from_evidence(ctx: Ctx, incident: Incident, ref: str, number: int) -> Snapshot:
    async with ctx.deps.session() as session:
        row = (await session.exec(select(Evidence).where(Evidence.incident_id == incident.id,
                                                         col(Evidence.number) == number))).first()
    if row is None:
        raise NotFoundError(f"No evidence E{number} in this incident.")
    if row.status != "ok":
        raise UsageError(f"E{number} is a failed attempt; it holds no data.", datacheck_usage())
    source: dict[str, Any] = {"evidence": number}
    if row.file_id:
        name, data = await download(ctx, row.file_id, ref, incident.channel_id)
        if row.file_sha256 and hashlib.sha256(data).hexdigest() != row.file_sha256:
            raise CollectorError(f"The file of {ref} no longer matches the SHA-256 recorded when it was added.")
        return Snapshot(ref, name, data, {**source, "file_id": row.file_id})
    if row.artifact is not None or row.artifact_path:
        name = str((row.custody.get("artifact") or {}).get("name") or f"E{number}")
        return Snapshot(ref, name, artifacts.load(ctx.deps.settings, row), source)
    raise UsageError(f"E{number} is a link without stored content; share the file in the channel or add it with "
                     "`/retro evidence file <file>`.", datacheck_usage())


async def snapshot(ctx: Ctx, incident: Incident, ref: str) -> Snapshot:
    """E<n>, a Slack file link or id, or the name of a file shared in the channel."""
    ref = ref.strip()
    m = _EVIDENCE.match(ref)
    if m:
        return await _from_evidence(ctx, incident, ref, int(m.group(1)))
    file_id = channels.file_id_in(ref.strip("<>").split("|", 1)[0]) or await _shared_file(ctx, incident, ref)
    name, data = await download(ctx, file_id, ref, incident.channel_id)
    return Snapshot(ref, name, data, {"file_id": file_id})


def datacheck_usage() -> str:
    """The usage line."""
    return USAGE["datacheck"]


def thresholds(ctx: Ctx, cmd: Parsed) -> Thresholds:
    """Settings' thresholds, overridden per command by psi= ks= nulls=."""
    s = ctx.deps.settings
    values = {"psi": s.retro_drift_psi, "ks": s.retro_drift_ks, "nulls": s.retro_drift_null_delta}
    for k in values:
        if k in cmd.options:
            try:
                values[k] = float(cmd.options[k])
            except ValueError:
                raise cmd.fail(f"`{k}=` takes a number, like {values[k]:g}.") from None
            if not 0 < values[k] <= (10 if k == "psi" else 1):
                raise cmd.fail(f"`{k}={cmd.options[k]}` is out of range.")
    return Thresholds(psi=values["psi"], ks=values["ks"], null_delta=values["nulls"])


async def datacheck_cmd(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro datacheck baseline=<E#|file> current=<E#|file> [key=…] [psi=…] [ks=…] [nulls=…]`."""
    cmd.allow_options("baseline", "current", "key", "psi", "ks", "nulls")
    missing = [k for k in ("baseline", "current") if not cmd.options.get(k)]
    if missing or cmd.words:
        raise cmd.fail("Name both snapshots: baseline=E<n> current=E<n> (or file links or names).")
    th = thresholds(ctx, cmd)
    key = [k.strip() for k in cmd.options.get("key", "").split(",") if k.strip()]
    incident = await ctx.incident()
    b, c = cmd.options["baseline"], cmd.options["current"]
    ref = f"datacheck baseline={b} current={c}" + (f" key={','.join(key)}" if key else "")
    await ctx.reply(f":hourglass_flowing_sand: Comparing {echo(b, 200)} with {echo(c, 200)}…")
    requested_at = ctx.deps.now()
    try:
        base, cur = await snapshot(ctx, incident, b), await snapshot(ctx, incident, c)
        collected = await asyncio.to_thread(datacheck.check, base, cur, key=key, thresholds=th)
    except (CollectorError, DataError) as exc:
        async with ctx.deps.session() as session:
            row = await record_failed(session, incident=incident, item=EvidenceInput("dataset", ref),
                                      name=datacheck.NAME, version=datacheck.VERSION, source=ref,
                                      error=exc.user_message, actor=ctx.user_id, requested_at=requested_at,
                                      now=ctx.deps.now())
        await ctx.reply(f":warning: The data check failed: {echo(exc.user_message, 900)}\n"
                        f"Recorded *E{row.number}* as a failed attempt.")
        return
    async with ctx.deps.session() as session:
        row = await record_collected(session, deps=ctx.deps, incident=incident,
                                     item=EvidenceInput("dataset", ref, collected.summary), name=datacheck.NAME,
                                     version=datacheck.VERSION, collected=collected, actor=ctx.user_id,
                                     requested_at=requested_at, now=ctx.deps.now())
    await channels.post(ctx.client, ctx.deps, incident, text=channel_summary(row, base, cur, collected.metadata))
    await ctx.reply(f"Data check stored as *E{row.number}* (report JSON + Markdown, sha256 "
                    f"`{str(row.custody['artifact']['sha256'])[:16]}…`).")


def channel_summary(row: Evidence, base: Snapshot, cur: Snapshot, meta: dict[str, Any]) -> str:
    """The channel message: inputs, the verdict line, one line per flagged feature."""
    head = (f":bar_chart: *E{row.number}* data check of `{echo(cur.name, 120)}` ({echo(cur.ref, 60)}) against "
            f"baseline `{echo(base.name, 120)}` ({echo(base.ref, 60)}): {echo(row.note, 300)}")
    lines = []
    for f in meta.get("flagged", [])[:10]:
        bits = [f"{k.upper()} {f[k]}" for k in ("psi", "ks") if f.get(k) is not None]
        lines.append(f"• `{echo(f['column'], 80)}` {', '.join(f['flags'])}: {', '.join(bits)} · nulls "
                     f"{f['null_rate']}")
    return "\n".join([head, *lines])


SUBCOMMANDS = {"datacheck": datacheck_cmd}
