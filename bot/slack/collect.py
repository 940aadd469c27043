"""Evidence that collects itself, driven from Slack: pick the collector, collect and keep, share the chart."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.collected import chart_comment, chart_failed_text, collecting_text, outcome_text
from bot.collectors.base import Artifact, Collected, Collector, CollectRequest
from bot.collectors.record import Outcome
from bot.collectors.record import collect as collect_and_keep
from bot.collectors.registry import Registry
from bot.deps import Deps
from bot.errors import UsageError
from bot.incident import evidence
from bot.record import chain
from bot.slack.channels import post
from storage.models import Evidence, Incident

log = logging.getLogger("retro.collect")
Progress = Callable[[str], Awaitable[None]]  # tells the caller how a long task is going


@functools.cache
def registry() -> Registry:
    """The installed collectors (entry points are read once per process)."""
    return Registry.installed()


@dataclass
class Found:
    """The collector that takes an evidence item, and how it describes the work."""

    collector: Collector
    what: str


@dataclass
class Collection:
    """What one collection did: the kept (or failed) evidence, and a chart upload Slack refused, if any."""

    what: str
    outcome: Outcome
    chart_error: str | None = None


def _request(item: evidence.EvidenceInput) -> CollectRequest:
    return CollectRequest(item.kind, item.ref, dict(item.options))


def collector_for(deps: Deps, item: evidence.EvidenceInput) -> Found | None:
    """The collector that accepts this item, if one does (else it is recorded as a link)."""
    collector = registry().find(_request(item), deps.settings)
    if collector is None:
        return None
    return Found(collector, collector.describe(_request(item), deps.settings))


async def collect(client: AsyncWebClient, deps: Deps, incident: Incident, item: evidence.EvidenceInput, *,
                  actor: str, found: Found) -> Collection:
    """Collect and keep the item as evidence (a failure is kept as a failed attempt), then share its chart."""
    out = await collect_and_keep(deps, incident=incident, item=item, collector=found.collector, actor=actor)
    done = Collection(found.what, out)
    if out.collected is not None and out.collected.chart is not None:
        done.chart_error = await post_chart(client, deps, incident, out.item, out.collected)
    return done


async def post_chart(client: AsyncWebClient, deps: Deps, incident: Incident, row: Evidence,
                     collected: Collected) -> str | None:
    """Share the chart in the incident channel and chain the post (its echo as an event is skipped);
    returns Slack's error when the upload was refused."""
    assert collected.chart is not None
    return await share_charts(client, deps, incident, row, [collected.chart],
                              chart_comment(row, collected.summary, collected.caption))


async def share_charts(client: AsyncWebClient, deps: Deps, incident: Incident, row: Evidence,
                       charts: list[Artifact], comment: str) -> str | None:
    """Upload charts of evidence `row` into the incident channel as one message with `comment`, and chain the post
    (its echo as an event is skipped); returns Slack's error when the upload was refused."""
    assert incident.id is not None
    names = [f"E{row.number}-{c.name}" for c in charts]
    uploads = [{"content": c.data, "filename": name, "title": f"E{row.number} chart", "alt_txt":
                f"Chart of E{row.number}: {c.name}"} for c, name in zip(charts, names, strict=True)]
    try:
        resp = await client.files_upload_v2(channel=incident.channel_id, file_uploads=uploads,
                                            initial_comment=comment)
    except SlackApiError as exc:
        log.warning("chart upload failed for incident %s: %s", incident.id, exc.response.get("error"))
        return str(exc.response.get("error"))
    files = [{"id": f.get("id"), "name": name} for f, name in zip(resp.get("files") or [], names, strict=False)]
    async with deps.session() as session:
        await chain.append(session, incident_id=incident.id, kind="chart_posted", at=deps.now(),
                           actor=deps.bot_user_id, text=comment, data={"evidence": row.number, "files": files})
        await session.commit()
    return None


async def collect_models(client: AsyncWebClient, deps: Deps, incident: Incident, *, actor: str,
                         progress: Progress) -> list[Collection]:
    """At declaration: collect each `model=` from the registry as the incident's first evidence, told in the
    channel."""
    done = []
    for model in incident.models:
        try:
            item = evidence.validate("model", model, "", {}, now=deps.now())
        except UsageError:
            continue  # not a registry reference; the declaration already keeps it as text
        found = collector_for(deps, item)
        if found is None:
            continue
        await progress(collecting_text(found.what))
        collection = await collect(client, deps, incident, item, actor=actor, found=found)
        await post(client, deps, incident, text=outcome_text(collection.outcome, found.what))
        if collection.chart_error:
            await progress(chart_failed_text(collection.outcome.item.number, collection.chart_error))
        done.append(collection)
    return done
