"""Running a collector and recording the outcome as evidence with its custody record (success or failure)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.collectors import artifacts
from bot.collectors.base import Artifact, Collected, CollectEnv, Collector, CollectRequest
from bot.deps import Deps
from bot.errors import CollectorError, RetroError
from bot.incident import evidence
from bot.incident.evidence import EvidenceInput
from storage.models import Evidence, Incident

log = logging.getLogger("retro.collectors")


@dataclass(frozen=True)
class Outcome:
    """The evidence item written, and what was collected (None when the attempt failed)."""

    item: Evidence
    collected: Collected | None
    error: str | None = None


def json_safe(value: Any) -> Any:
    """The value with floats written as text (the record hashes the same everywhere) and keys as strings."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def custody_of(*, name: str, version: str, collected: Collected, stored: dict[str, Any], actor: str,
               requested_at: datetime, now: datetime) -> dict[str, Any]:
    """Who collected what, from where, with which parameters, when, at whose request, and what was kept."""
    custody = {"collector": {"name": name, "version": version}, "source_url": collected.source_url,
               "request": json_safe(collected.request), "requested_by": actor, "requested_at": iso(requested_at),
               "retrieved_at": iso(now), "artifact": stored, "metadata": json_safe(collected.metadata)}
    return custody if collected.analysis is None else {**custody, "analysis": json_safe(collected.analysis)}


async def record_collected(session: AsyncSession, *, deps: Deps, incident: Incident, item: EvidenceInput,
                           name: str, version: str, collected: Collected, actor: str, requested_at: datetime,
                           now: datetime) -> Evidence:
    """Store the artifact (inline or as a file) and add the evidence item with its custody; commits."""
    art: Artifact = collected.artifact()
    stored = artifacts.store(deps.settings, art.data, media_type=art.media_type, name=art.name)
    record = stored.record(name=art.name, media_type=art.media_type)
    if len(collected.files) > 1:
        record["members"] = [artifacts.store_info(f) for f in collected.files]
    custody = custody_of(name=name, version=version, collected=collected, stored=record, actor=actor,
                         requested_at=requested_at, now=now)
    final = replace(item, options={**item.options, **collected.options})
    return await evidence.add(session, incident=incident, item=final, actor=actor, now=now, custody=custody,
                              media_type=art.media_type, artifact=stored.inline, artifact_path=stored.path)


async def record_failed(session: AsyncSession, *, incident: Incident, item: EvidenceInput, name: str, version: str,
                        source: str, error: str, actor: str, requested_at: datetime, now: datetime) -> Evidence:
    """Record a failed attempt (the reference, the error, when) as evidence with status `failed`; commits."""
    custody = {"collector": {"name": name, "version": version}, "source": source,
               "request": {"kind": item.kind, "ref": item.ref, "options": item.options}, "requested_by": actor,
               "requested_at": iso(requested_at), "failed_at": iso(now), "error": error[:1000]}
    return await evidence.add(session, incident=incident, item=item, actor=actor, now=now, status="failed",
                              custody=custody)


async def collect(deps: Deps, *, incident: Incident, item: EvidenceInput, collector: Collector,
                  actor: str) -> Outcome:
    """Collect outside any database transaction, then record the result or the failure."""
    requested_at = deps.now()
    request = CollectRequest(item.kind, item.ref, dict(item.options))
    env = CollectEnv(settings=deps.settings, now=requested_at, requested_by=actor)
    try:
        collected = await collector.collect(request, env)
    except CollectorError as exc:
        error = exc.user_message
    except RetroError:  # a usage problem (e.g. a bad step): nothing was attempted
        raise
    except Exception as exc:  # a collector bug must still leave a trace of the attempt
        log.exception("collector %s failed unexpectedly", collector.name)
        error = f"The {collector.name} collector failed unexpectedly ({type(exc).__name__})."
    else:
        async with deps.session() as session:
            row = await record_collected(session, deps=deps, incident=incident, item=item, name=collector.name,
                                         version=collector.version, collected=collected, actor=actor,
                                         requested_at=requested_at, now=deps.now())
        return Outcome(row, collected)
    async with deps.session() as session:
        row = await record_failed(session, incident=incident, item=item, name=collector.name,
                                  version=collector.version, source=collector.describe(request, deps.settings),
                                  error=error, actor=actor, requested_at=requested_at, now=deps.now())
    return Outcome(row, None, error)
