"""The workflows several adapters share: declare, assign a role, add evidence, change an action item, draft the
postmortem. Each takes the Web API client, the deps and who acts, does the domain work and the Slack calls around
it, and returns what happened; the caller decides what to reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import card_blocks, echo, roles_prompt_blocks
from bot.blocks.card import duties_text
from bot.blocks.collected import chart_failed_text, collecting_text, outcome_text, recorded_text
from bot.blocks.ledger import action_added_text
from bot.blocks.postmortem import draft_summary, file_uploads, summary_text, upload_comment
from bot.deps import Deps
from bot.followup import action_items, cadence
from bot.followup.action_items import ActionInput, Change
from bot.incident import evidence, incidents, roles
from bot.insights.pattern_use import incident_document
from bot.postmortem import document, draft
from bot.postmortem.timeline_picture import timeline_png
from bot.safety import neutralise
from bot.slack import app_home, pattern_flow
from bot.slack.channels import create_channel, invite, post, refresh_card
from bot.slack.collect import Collection, Progress, collect, collector_for
from bot.slack.files import file_digest, shared_file_id
from bot.slack.people import names_of
from bot.slack.recurrence_flow import offer_recurrences
from bot.slack.sweep import deliver_now
from storage.models import Evidence, Incident

log = logging.getLogger("retro.flows")
FILE_HINT = ("Give a file's name as listed, its id (F…) or its link; a file outside Slack is evidence of kind "
             "`dataset`, `log` or `other`.")


async def declare(client: AsyncWebClient, deps: Deps, decl: incidents.Declaration, *, team_id: str, actor: str,
                  from_channel: str, recorded: Callable[[Incident], Awaitable[None]] | None = None) -> Incident:
    """Open the incident: channel, record, invite, topic, card (pinned) and roles thread — seven Web API calls (the
    caller collects its models). An automatic declaration (`decl.automatic`: the bot is the actor) invites nobody;
    `recorded` is awaited as soon as the incident is in the database, before the Slack calls that follow."""
    channel_id, channel_name = await create_channel(client, deps, team_id=team_id, title=decl.title,
                                                    private=decl.private)
    async with deps.session() as session:
        incident = await incidents.create(session, team_id=team_id, decl=decl, declared_by=actor,
                                          declared_in=from_channel, channel_id=channel_id,
                                          channel_name=channel_name, now=deps.now())
    if recorded is not None:
        await recorded(incident)
    lead = decl.commander if decl.automatic else actor
    if not decl.automatic:  # the bot is in the channel it made; whoever an alert names is invited by its flow
        await client.conversations_invite(channel=channel_id, users=actor)
    sev = deps.catalog.severity(decl.severity)
    topic = f"{sev.name if sev else decl.severity} · {decl.category} · investigating · {neutralise(decl.title)}"
    await client.conversations_setTopic(channel=channel_id, topic=topic[:250])
    held = {"commander": lead} if lead else {}
    card_ts = await post(client, deps, incident, text=f"Incident: {echo(decl.title, 150)}",
                         blocks=card_blocks(incident, held, deps.catalog, deps.settings.web_base))
    await client.pins_add(channel=channel_id, timestamp=card_ts)
    roles_ts = await post(client, deps, incident, text="Roles for this incident",
                          blocks=roles_prompt_blocks(incident, held, deps.catalog), thread_ts=card_ts)
    async with deps.session() as session:
        incident.card_ts, incident.roles_ts = card_ts, roles_ts
        session.add(incident)
        await session.commit()
    await offer_recurrences(client, deps, incident)
    await pattern_flow.suggest(client, deps, incident)
    return incident


async def assign_role(client: AsyncWebClient, deps: Deps, incident: Incident, *, role: str, user: str,
                      actor: str) -> None:
    """Assign, invite, tell the duties in the card's thread and refresh the card."""
    async with deps.session() as session:
        await roles.assign(session, catalog=deps.catalog, incident=incident, role=role, user=user, actor=actor,
                           now=deps.now())
    await invite(client, incident.channel_id, user)
    spec = deps.catalog.role_named(role)
    assert spec is not None
    await post(client, deps, incident, text=duties_text(spec.name, spec.duties, user), thread_ts=incident.card_ts)
    await refresh_card(client, deps, incident)


@dataclass
class EvidenceAdded:
    """The evidence kept: collected by a collector, or a link / hashed Slack file."""

    row: Evidence
    collection: Collection | None = None
    file_sha256: str | None = None

    def replies(self) -> list[str]:
        """What to tell the person who added it."""
        if self.collection is None:
            return [recorded_text(self.row, self.file_sha256)]
        done = [outcome_text(self.collection.outcome, self.collection.what)]
        if self.collection.chart_error:
            done.append(chart_failed_text(self.row.number, self.collection.chart_error))
        return done


async def add_evidence(client: AsyncWebClient, deps: Deps, incident: Incident, item: evidence.EvidenceInput, *,
                       actor: str, progress: Progress) -> EvidenceAdded:
    """Collected when a collector takes the item; else recorded, hashing a Slack file shared in the channel."""
    found = collector_for(deps, item)
    if found is not None:
        await progress(collecting_text(found.what))
        collection = await collect(client, deps, incident, item, actor=actor, found=found)
        return EvidenceAdded(collection.outcome.item, collection=collection)
    file_id = await shared_file_id(deps, incident.id or 0, item.ref, hint=FILE_HINT) if item.kind == "file" else None
    file_sha: str | None = None
    custody: dict[str, object] = {}
    if file_id:
        file_sha, custody = await file_digest(client, file_id, settings=deps.settings, channel_id=incident.channel_id)
    async with deps.session() as session:
        row = await evidence.add(session, incident=incident, item=item, actor=actor, now=deps.now(), file_id=file_id,
                                 file_sha256=file_sha, custody={"file": custody} if custody else None)
    return EvidenceAdded(row, file_sha256=file_sha)


async def publish_change(client: AsyncWebClient, deps: Deps, incident: Incident, change: Change,
                         notice: str | None) -> None:
    """After an action-item change: tell the channel (unless `notice` is None), DM a new owner, refresh the Homes
    it touches (the record is already safe)."""
    try:
        if notice is not None:
            await post(client, deps, incident, text=notice)
    except SlackApiError as exc:  # e.g. the channel was archived after the incident closed
        log.warning("could not post in incident %s: %s", incident.id, exc.response.get("error"))
    await deliver_now(deps, client, [change.notify])
    await app_home.refresh(client, deps, incident.team_id, [change.action.owner, change.previous_owner])


async def create_action(client: AsyncWebClient, deps: Deps, incident: Incident, item: ActionInput, *,
                        actor: str) -> Change:
    """Record a new action item and publish it."""
    async with deps.session() as session:
        change = await action_items.create(session, catalog=deps.catalog, incident=incident, item=item, actor=actor,
                                           now=deps.now())
    today = cadence.local_today(deps.now(), deps.catalog.tz)
    await publish_change(client, deps, incident, change, action_added_text(change.action, today))
    return change


async def draft_postmortem(client: AsyncWebClient, deps: Deps, incident: Incident, *, actor: str) -> draft.Draft:
    """Render (failing before anything is posted), record the version, post the summary and attach the files."""
    async with deps.session() as session:
        doc = await incident_document(session, incident, catalog=deps.catalog,
                                      people=await draft.latest_people(session, incident.id or 0))
    doc = document.with_people(doc, await names_of(client, deps, incident.team_id, document.user_ids(doc)))
    markdown, findings = await asyncio.to_thread(draft.prepare, deps.templates, doc, deps.catalog)
    png = await asyncio.to_thread(timeline_png, doc)
    async with deps.session() as session:
        recorded = await draft.record_draft(session, incident=incident, doc=doc, markdown=markdown,
                                            findings=findings, actor=actor, now=deps.now())
    ts = await post(client, deps, incident, text=summary_text(doc, recorded.version),
                    blocks=draft_summary(doc, version=recorded.version, sha256=recorded.sha256, findings=findings,
                                         web_base=deps.settings.web_base))
    try:
        await client.files_upload_v2(file_uploads=file_uploads(doc, markdown, png, recorded.version),
                                     channel=incident.channel_id, thread_ts=ts,
                                     initial_comment=upload_comment(recorded.version, findings))
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("postmortem upload failed for incident %s: %s", incident.id, error)
        await post(client, deps, incident, thread_ts=ts,
                   text=f"Could not attach the files ({error}). Draft v{recorded.version} is stored; "
                        f"`retro export {incident.channel_name}` writes it with the timeline.")
    return recorded
