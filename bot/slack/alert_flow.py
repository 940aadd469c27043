"""An alert notification's Slack work, after intake recorded it: declare an incident from the group (channel,
owners, the alerts channel told, models collected), or tell the group's open incident what changed; each alert kept
as evidence, its Prometheus expression charted from an hour before it started."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import sightings
from bot.alerts.batch import AlertBatch
from bot.alerts.claims import set_group_incident
from bot.alerts.routing import Decision, decide, joinable
from bot.blocks.alert_texts import alert_line, alerts_text, announce_text, declared_heading, joined_heading
from bot.blocks.collected import outcome_text
from bot.canonical import iso
from bot.deps import Deps
from bot.incident import evidence, incidents
from bot.slack import flows
from bot.slack.channels import invite, post
from bot.slack.collect import collect, collect_models, collector_for
from bot.slack.delivery import ChannelNames, channel_id
from bot.slack.installs import client_for
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.models import Incident

log = logging.getLogger("retro.alerts")
BEFORE_START = timedelta(hours=1)  # a collected range query starts this long before the alert did
MAX_QUERIES = 5  # range queries collected (and charts posted) for one notification


@dataclass(frozen=True)
class Handled:
    """What became of one notice: declared, joined, resolved or recorded, and the incident it went to."""

    outcome: str
    incident_id: int | None


async def handle(client: AsyncWebClient, deps: Deps, group: AlertGroupRow, notice: AlertNotice, batch: AlertBatch,
                 *, worker: str) -> Handled:
    """Route the notice and do its Slack work; `worker` holds the group's claim. Raising leaves the notice to be
    retried: the incident is linked to the group as soon as it exists, so a retry joins it and declares nothing."""
    decision = decide(batch, deps.catalog.alerts, deps.catalog)
    if decision.action == "record":
        return Handled("recorded", None)
    async with deps.session() as session:
        incident = await session.get(Incident, group.incident_id) if group.incident_id else None
        if incident is not None and incident.status == "closed":
            incident = None
        if incident is None and decision.action == "join" and batch.status == "firing":
            incident = await joinable(session, group.team_id, decision)
    if incident is None and decision.action != "declare":
        return Handled("recorded", None)
    client = await client_for(client, deps, group.team_id)  # the app's own in token mode; else the install's
    actor = await bot_user(client, deps)
    if incident is None:
        incident = await declare(client, deps, group, notice, batch, decision, actor=actor, worker=worker)
        return Handled("declared", incident.id)
    await _link(deps, group, incident, worker)
    async with deps.session() as session:
        changes = await sightings.record(session, incident=incident, batch=batch, notice=notice, actor=actor,
                                         now=deps.now())
    if changes:
        await post(client, deps, incident, text=alerts_text(joined_heading(len(changes)),
                                                            [alert_line(c.alert, c.change) for c in changes]))
    await _collect_queries(client, deps, incident, [c for c in changes if c.evidence is not None], actor)
    return Handled("resolved" if batch.status == "resolved" else "joined", incident.id)


async def bot_user(client: AsyncWebClient, deps: Deps) -> str:
    """The bot's user id in the client's workspace (auth.test when the deps do not know it)."""
    if deps.bot_user_id:
        return deps.bot_user_id
    return str((await client.auth_test())["user_id"])


async def declare(client: AsyncWebClient, deps: Deps, group: AlertGroupRow, notice: AlertNotice, batch: AlertBatch,
                  decision: Decision, *, actor: str, worker: str) -> Incident:
    """Declare as the bot, detected when the earliest alert started; link the group at once; keep the alerts as
    evidence, then invite, announce and collect (each best effort: the incident and its evidence are safe)."""
    config = deps.catalog.alerts
    started = batch.starts_at
    detected = min(started, deps.now()) if started else None
    decl = incidents.validate_declaration(deps.catalog, title=decision.title, severity=decision.severity,
                                          category=decision.category, models=decision.models,
                                          description=batch.common_annotations.get("description", "")[:2000])
    decl = replace(decl, automatic=True, commander=config.commander, detected_at=detected)

    async def link(incident: Incident) -> None:  # before any more Slack calls: a retry then joins, never redeclares
        await _link(deps, group, incident, worker)

    incident = await flows.declare(client, deps, decl, team_id=group.team_id, actor=actor, from_channel="",
                                   recorded=link)
    async with deps.session() as session:
        changes = await sightings.record(session, incident=incident, batch=batch, notice=notice, actor=actor,
                                         now=deps.now())
    await post(client, deps, incident, text=alerts_text(declared_heading(batch.source, batch.receiver,
                                                                         len(batch.alerts)),
                                                        [alert_line(c.alert, c.change) for c in changes]))
    for person in dict.fromkeys([*([config.commander] if config.commander else []), *decision.invite]):
        try:
            await invite(client, incident.channel_id, person)
        except SlackApiError as exc:
            log.warning("could not invite %s into incident %s: %s", person, incident.id, exc.response.get("error"))
    if decision.announce:
        await _announce(client, deps, group.team_id, decision.announce, incident, detected)

    async def progress(text: str) -> None:
        await post(client, deps, incident, text=text)

    await collect_models(client, deps, incident, actor=actor, progress=progress)
    await _collect_queries(client, deps, incident, changes, actor)
    return incident


async def _link(deps: Deps, group: AlertGroupRow, incident: Incident, worker: str) -> None:
    if group.incident_id == incident.id:
        return
    assert group.id is not None
    async with deps.session() as session:
        if not await set_group_incident(session, group.id, incident.id, worker=worker):
            log.warning("alert group %s lost its claim before it was linked to incident %s", group.id, incident.id)
    group.incident_id = incident.id  # the caller's row: the group's next notice joins this incident


async def _announce(client: AsyncWebClient, deps: Deps, team_id: str, ref: str, incident: Incident,
                    detected: datetime | None) -> None:
    """Tell the configured alerts channel (joining it when the bot is not in it yet); a failure is logged."""
    names = ChannelNames.of(deps)
    text = announce_text(incident, deps.catalog, detected)
    try:
        target = await names.resolve(client, team_id, ref)
        try:
            await client.chat_postMessage(channel=target, text=text, unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            if exc.response.get("error") != "not_in_channel":
                raise
            await client.conversations_join(channel=await channel_id(client, target))
            await client.chat_postMessage(channel=target, text=text, unfurl_links=False, unfurl_media=False)
    except SlackApiError as exc:
        if exc.response.get("error") in ("channel_not_found", "is_archived"):
            names.forget(team_id, ref)
        log.warning("incident %s not announced in %s: %s", incident.id, ref, exc.response.get("error"))


def promql_of(generator_url: str) -> str | None:
    """The PromQL expression a Prometheus `generatorURL` carries (`…/graph?g0.expr=…`), if any."""
    try:
        found = parse_qs(urlsplit(generator_url).query).get("g0.expr")
    except ValueError:
        return None
    expr = found[0].strip() if found else ""
    return expr or None


async def _collect_queries(client: AsyncWebClient, deps: Deps, incident: Incident, changes: list[sightings.Change],
                           actor: str) -> None:
    """For each newly kept alert whose generatorURL has an expression the incident has not charted yet: the range
    query from an hour before the alert started until now, collected and charted as `/retro evidence metric` (at
    most MAX_QUERIES per notification: a storm of distinct rules must not flood the channel)."""
    if not deps.settings.prometheus_url:
        return
    assert incident.id is not None
    async with deps.session() as session:
        done = {e.ref for e in await evidence.listing(session, incident.id) if e.kind == "metric"}
    collected = 0
    for change in changes:
        expr = promql_of(change.alert.generator_url)
        if expr is None or expr in done or collected >= MAX_QUERIES:
            continue
        done.add(expr)
        collected += 1
        start = (change.alert.starts_at or deps.now()) - BEFORE_START
        item = evidence.EvidenceInput("metric", expr, f"the expression of alert {change.alert.name}",
                                      {"from": iso(start) or "", "to": iso(deps.now()) or ""})
        found = collector_for(deps, item)
        if found is None:
            continue
        collection = await collect(client, deps, incident, item, actor=actor, found=found)
        await post(client, deps, incident, text=outcome_text(collection.outcome, found.what))

