"""`/retro rerun`: recorded analyses run again from the record (data checks from their kept snapshots, Prometheus
and MLflow live), each outcome kept as evidence and said in the incident channel."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.rerun_texts import rerun_text
from bot.collectors.base import JSON_TYPE, Artifact, Collected
from bot.collectors.record import json_safe, record_collected
from bot.deps import Deps
from bot.errors import UsageError
from bot.incident import evidence
from bot.incident.evidence import EvidenceInput
from bot.insights import replay, rerun
from bot.insights.analyses import DATACHECK, Analysis
from bot.slack.channels import post
from bot.slack.snapshots import CheckWorkers
from storage.models import Evidence, Incident

NAME, VERSION = "rerun", "1.0"


@dataclass(frozen=True)
class Kept:
    """An analysis run again, and the evidence item that keeps its outcome."""

    rerun: rerun.Rerun
    row: Evidence


async def chosen(deps: Deps, incident: Incident, numbers: list[int], usage: str) -> tuple[list[Evidence],
                                                                                         list[Analysis]]:
    """The incident's evidence rows, and the analyses E<n>… record; an item that records none is refused."""
    async with deps.session() as session:
        rows = await evidence.listing(session, incident.id or 0)
    found = {a.number: a for a in rerun.analyses_of(rows, numbers)}
    known = {row.number: row for row in rows}
    for n in numbers:
        if n not in known:
            raise UsageError(f"There is no E{n} in this incident.", usage)
        if n not in found:
            raise UsageError(f"E{n} records no analysis to run again ({known[n].kind} evidence; analyses are data "
                             "checks, Prometheus ranges and MLflow lookups).", usage)
    return rows, [found[n] for n in numbers]


def _collected(r: rerun.Rerun, original: Evidence) -> Collected:
    body = json.dumps(json_safe({"rerun": r.facts(), "output": r.output}), indent=2, sort_keys=True,
                      allow_nan=False).encode()
    line = f"E{r.number} run again: {r.outcome}" + (f" — {r.detail[0]}" if r.detail else "")
    return Collected(files=(Artifact("rerun.json", JSON_TYPE, body),), source_url=f"E{r.number} ({original.ref})",
                     request={"evidence": r.number, "kind": r.kind}, metadata=r.facts(), summary=line[:300],
                     options={"rerun_of": f"E{r.number}", "outcome": r.outcome})


async def run(client: AsyncWebClient, deps: Deps, incident: Incident, numbers: list[int], *, actor: str, usage: str,
              on_queued: Callable[[int], Awaitable[None]]) -> list[Kept]:
    """Run each analysis again (data checks wait for a free data-check worker), keep each outcome as evidence of
    the original's kind, and say it in the channel."""
    rows, picked = await chosen(deps, incident, numbers, usage)
    sources, by_number = rerun.StoreSources(deps.settings, rows), {row.number: row for row in rows}
    kept = []
    for a in picked:
        requested_at = deps.now()
        if a.kind == DATACHECK:
            async with deps.get(CheckWorkers).turn(on_queued):
                [done] = await replay.rerun_all([a], sources, deps.settings)
        else:
            [done] = await replay.rerun_all([a], sources, deps.settings)
        original = by_number[a.number]
        collected = _collected(done, original)
        async with deps.session() as session:
            row = await record_collected(session, deps=deps, incident=incident,
                                         item=EvidenceInput(original.kind, f"rerun E{a.number}", collected.summary),
                                         name=NAME, version=VERSION, collected=collected, actor=actor,
                                         requested_at=requested_at, now=deps.now())
        await post(client, deps, incident, text=rerun_text(done, row.number))
        kept.append(Kept(done, row))
    return kept
