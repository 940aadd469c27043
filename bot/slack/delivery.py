"""Sending one claimed reminder through Slack and recording the outcome (the Slack side of bot.followup.nudges)."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col

from bot.blocks import echo
from bot.blocks.home import assigned_dm, escalation_dm, reminder_dm
from bot.blocks.notices import digest, failure_text, status_prompt_text, triage_prompt
from bot.deps import Deps
from bot.followup import cadence, nudges, reminders
from bot.record import timeline
from bot.slack import verify_flow
from bot.slack.audit_post import monthly_parts
from bot.slack.installs import client_for
from storage.models import Incident, Reminder

log = logging.getLogger("retro.reminders")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")

# Errors retrying cannot fix: the reminder is given up at once (and the commander told).
PERMANENT = frozenset({"account_inactive", "user_not_found", "user_disabled", "cannot_dm_bot", "channel_not_found",
                       "is_archived", "invalid_auth", "not_authed", "token_revoked",
                       "missing_scope", "restricted_action", "not_allowed_token_type", "invalid_blocks",
                       "msg_too_long", "msg_blocks_too_long", "no_text"})


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait when it rate-limited the call, else None."""
    response = exc.response
    if getattr(response, "status_code", None) != 429 and response.get("error") != "ratelimited":
        return None
    headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    value = headers.get("retry-after", 1)
    value = value[0] if isinstance(value, list | tuple) else value
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0


def _metadata(row_id: int | None, kind: str) -> dict[str, Any]:
    # Machine-readable marker on every reminder message: which row it delivered.
    return {"event_type": "retro_reminder", "event_payload": {"reminder_id": row_id, "kind": kind}}


async def _channel_post(client: AsyncWebClient, deps: Deps, incident: Incident, *, text: str, meta: dict[str, Any],
                        blocks: Any = None, thread_ts: str | None = None) -> None:
    resp = await client.chat_postMessage(channel=incident.channel_id, text=text, blocks=blocks, thread_ts=thread_ts,
                                         unfurl_links=False, unfurl_media=False, metadata=meta)
    try:  # the post went out: failing to chain it must not make the reminder send twice
        async with deps.session() as session:
            await timeline.record_bot_post(session, incident=incident, ts=str(resp["ts"]), text=text,
                                           thread_ts=thread_ts, now=deps.now(), bot_user=deps.bot_user_id)
    except Exception:
        log.exception("prompt posted in incident %s but not recorded", incident.id)


class UnknownChannel(SlackApiError):
    """A configured channel name that no public channel of the workspace has (conversations.list)."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no public channel is named {ref}",  # type: ignore[no-untyped-call]
                         {"ok": False, "error": "channel_not_found"})
        self.ref = ref


async def channel_id(client: AsyncWebClient, ref: str) -> str:
    """A channel's id from an id or a public channel's name (conversations.list, paged); UnknownChannel if none."""
    name = ref.strip().removeprefix("#")
    if _CHANNEL_ID.fullmatch(name):
        return name
    name = name.lower()  # Slack's channel names are lowercase
    cursor = None
    while True:
        page = await client.conversations_list(types="public_channel", exclude_archived=True, limit=200,
                                               cursor=cursor)
        for ch in page.get("channels") or []:
            if ch.get("name") == name:
                return str(ch["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            raise UnknownChannel(ref)


class ChannelNames:
    """Configured channel names resolved to ids, once per workspace and name (a process-wide service on Deps)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], str] = {}

    @staticmethod
    def of(deps: Deps) -> ChannelNames:
        """The resolver these deps share, provided on first use."""
        try:
            return deps.get(ChannelNames)
        except LookupError:
            return deps.provide(ChannelNames())

    async def resolve(self, client: AsyncWebClient, team_id: str, ref: str) -> str:
        """The id to post to: Slack refuses names in chat.postMessage (`channel_not_found`), so a name is looked up."""
        key = (team_id, ref.strip().removeprefix("#").lower())
        if key not in self.ids:
            self.ids[key] = await channel_id(client, ref)
        return self.ids[key]

    def forget(self, team_id: str, ref: str) -> None:
        """Drop a resolution that stopped working (the channel was renamed, archived or deleted)."""
        self.ids.pop((team_id, ref.strip().removeprefix("#").lower()), None)

    async def close(self) -> None:
        """Nothing to release."""


async def _digest_to(client: AsyncWebClient, deps: Deps, row: Reminder, ref: str,
                     parts: list[tuple[str, Any]]) -> None:
    thread = row.data.get("thread")
    if isinstance(thread, dict):  # an earlier attempt posted the first part: finish that thread, nothing else
        await _post_replies(client, deps, row, str(thread["channel"]), str(thread["ts"]),
                            [(str(t), b) for t, b in thread["rest"]])
        return
    names = ChannelNames.of(deps)
    try:
        await _post_digest(client, deps, row, await names.resolve(client, row.team_id, ref), parts)
    except SlackApiError as exc:
        if exc.response.get("error") in ("channel_not_found", "is_archived"):
            names.forget(row.team_id, ref)
        raise


async def _note_thread(deps: Deps, row: Reminder, channel: str, ts: str, rest: list[tuple[str, Any]]) -> None:
    # The parts still owed, as they were worded when the first part went out (the open items may change before a
    # retry, and the thread must finish what its first part announced); written only while the claim is ours.
    data = {**row.data, "thread": {"channel": channel, "ts": ts, "rest": [[text, blocks] for text, blocks in rest]}}
    try:
        async with deps.session() as session:
            mine = (col(Reminder.id) == row.id, col(Reminder.status) == reminders.CLAIMED,
                    col(Reminder.claimed_by) == row.claimed_by)
            await session.exec(update(Reminder).where(*mine).values(data=data))
            await session.commit()
    except Exception:
        log.exception("digest %s: progress of its thread not recorded", row.id)
    row.data = data


async def _post_digest(client: AsyncWebClient, deps: Deps, row: Reminder, channel: str,
                       parts: list[tuple[str, Any]]) -> None:
    # The first part goes in the channel, the rest as replies in its thread: each within Slack's caps.
    meta = _metadata(row.id, row.kind)
    (text, blocks), rest = parts[0], parts[1:]
    try:
        first = await client.chat_postMessage(channel=channel, text=text, blocks=blocks, metadata=meta)
    except SlackApiError as exc:
        if exc.response.get("error") != "not_in_channel":
            raise
        channel = await channel_id(client, channel)
        await client.conversations_join(channel=channel)
        first = await client.chat_postMessage(channel=channel, text=text, blocks=blocks, metadata=meta)
    target, thread = str(first["channel"]), str(first["ts"])
    if rest:
        await _note_thread(deps, row, target, thread, rest)
        await _post_replies(client, deps, row, target, thread, rest)


async def _post_replies(client: AsyncWebClient, deps: Deps, row: Reminder, channel: str, thread: str,
                        rest: list[tuple[str, Any]]) -> None:
    meta = _metadata(row.id, row.kind)
    for n, (text, blocks) in enumerate(rest, start=1):
        await client.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=blocks, metadata=meta)
        await _note_thread(deps, row, channel, thread, rest[n:])


async def send(client: AsyncWebClient, deps: Deps, notice: nudges.Notice, now: datetime) -> None:
    """Word and send one notice; raises SlackApiError (or a network error) when Slack did not take it."""
    row, incident, action = notice.row, notice.incident, notice.action
    catalog = deps.catalog
    client = await client_for(client, deps, row.team_id)
    today = cadence.local_today(now, catalog.tz)
    base = deps.workspace_url.get(row.team_id)
    meta = _metadata(row.id, row.kind)
    if row.kind == "recheck" and incident is not None and action is not None:
        await verify_flow.recheck(client, deps, incident, action, now=now)  # regressions add `regressed` rows
    elif row.kind == "regressed" and incident is not None and action is not None:
        await verify_flow.send_regressed(client, deps, incident, action, to=notice.to,
                                         check_id=int(row.data.get("check") or 0), metadata=meta)
    elif action is not None and incident is not None:
        title = echo(action.title, 150)
        if row.kind == "assigned":
            text, blocks = f"New action item A{action.number}: {title}", assigned_dm(
                action, incident, row.data.get("by"), today, base)
        elif row.kind == "escalation":
            text = f"A{action.number} is {notice.overdue_days} days overdue: {title}"
            blocks = escalation_dm(action, incident, notice.overdue_days, base)
        else:
            text = f"Reminder: A{action.number} {title}"
            blocks = reminder_dm(action, incident, row.kind, today, base)
        await client.chat_postMessage(channel=notice.to, text=text, blocks=blocks, metadata=meta)
    elif row.kind == "failure_notice":
        data = row.data
        await client.chat_postMessage(channel=notice.to, metadata=meta, text=failure_text(
            str(data.get("reminder_kind", "")), data.get("number"), int(data.get("attempts") or 0),
            str(data.get("error", "")), incident))
    elif row.kind == "digest":
        parts = digest(notice.items, cadence.local_today(now, catalog.tz))
        await _digest_to(client, deps, row, notice.to, parts)
    elif row.kind == "audit":
        await _digest_to(client, deps, row, notice.to, await monthly_parts(deps, row))
    elif row.kind == "status_update" and incident is not None:
        sev = catalog.severity(incident.severity)
        every = sev.update_every_minutes if sev and sev.update_every_minutes else 0
        text = status_prompt_text(notice.mention, notice.minutes, sev.name if sev else str(incident.severity), every)
        await _channel_post(client, deps, incident, text=text, meta=meta)
    elif row.kind == "triage" and incident is not None:
        text, blocks = triage_prompt(incident, notice.mention, notice.missing)
        await _channel_post(client, deps, incident, text=text, meta=meta, blocks=blocks,
                            thread_ts=incident.card_ts)
    else:
        raise ValueError(f"unknown reminder kind {row.kind!r}")


async def _send_fresh(client: AsyncWebClient, deps: Deps, notice: nudges.Notice, now: datetime) -> None:
    team_client = await client_for(client, deps, notice.row.team_id)
    try:
        await send(team_client, deps, notice, now)
    except SlackApiError as exc:
        # Slack calls a rotating token expired that its stored expiry said was good (clocks apart): refresh that
        # token (unless another send already did) and send once more; nothing went out, every call of one notice
        # uses the same token.
        if exc.response.get("error") != "token_expired" or client.token:
            raise
        team_client = await client_for(client, deps, notice.row.team_id, refused=team_client.token)
        await send(team_client, deps, notice, now)


async def deliver(client: AsyncWebClient, deps: Deps, row: Reminder, *, worker: str, now: datetime,
                  timeout: float, batch: nudges.Batch | None = None) -> str:
    """Send one claimed row and finish it: sent, cancelled, delayed, retry, failed or lost."""
    catalog = deps.catalog
    async with deps.session() as session:
        notice = await nudges.prepare(session, row, catalog=catalog, now=now, worker=worker, batch=batch)
        if isinstance(notice, str):
            return "cancelled" if await nudges.after_cancelled(session, row, worker=worker, reason=notice) else "lost"
    if notice is None:
        return "lost"
    try:
        await asyncio.wait_for(_send_fresh(client, deps, notice, now), timeout)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "slack_error")
        wait, permanent = retry_after(exc), error in PERMANENT
        if isinstance(exc, UnknownChannel):
            error = f"{error}: no public channel is named {exc.ref}"
        log.warning("reminder %s (%s) not delivered: %s", row.id, row.kind, error)
        async with deps.session() as session:
            return await nudges.after_failure(session, row, catalog=catalog, worker=worker, now=now, error=error,
                                              permanent=permanent, retry_after=wait)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("reminder %s (%s) not delivered: %s", row.id, row.kind, type(exc).__name__)
        async with deps.session() as session:
            return await nudges.after_failure(session, row, catalog=catalog, worker=worker, now=now,
                                              error=type(exc).__name__)
    async with deps.session() as session:
        if await nudges.after_sent(session, row, catalog=catalog, worker=worker, now=now, notice=notice):
            return "sent"
    log.warning("reminder %s was sent but its claim had been lost (cancelled or taken over meanwhile)", row.id)
    return "lost"

