"""The typed context a subcommand or interaction works with."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks import Blocks
from bot.blocks.card import declared_notice, declared_reply
from bot.blocks.confirm import BUTTON_VALUE_MAX, Confirmation, confirm_blocks
from bot.blocks.kit import error_text
from bot.blocks.modals import ModalMeta, loading_modal, notice_modal
from bot.deps import Deps
from bot.errors import NotAllowedError, RetroError
from bot.incident import incidents
from bot.slack.inbound import reply_url_allowed
from bot.slack.people import Membership, names_of
from bot.timeparse import spoken
from handlers.payloads import Origin, flat_origin, interaction_origin, private_metadata
from storage.models import Incident

log = logging.getLogger("retro.replies")
# chat.postEphemeral's answers when the caller cannot be reached in that channel
# (https://docs.slack.dev/reference/methods/chat.postEphemeral, "Errors").
EPHEMERAL_UNREACHABLE = frozenset({"user_not_in_channel", "channel_not_found", "not_in_channel", "is_archived"})
NAMES_WITHIN = 0.5  # seconds a modal's error waits for the names it shows


@dataclass
class Ctx:
    """Who asked, where, and how to answer them."""

    deps: Deps
    client: AsyncWebClient
    respond: AsyncRespond | None
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str | None = None
    enterprise_id: str | None = None
    # The caller's private channels, asked of Slack at most once per request.
    _membership: Membership | None = field(default=None, init=False, repr=False)
    # Set by whoever logs this request under a correlation id, so a refused reply is logged under it too.
    correlation_id: str | None = field(default=None, init=False, repr=False)
    _url_refused: bool = field(default=False, init=False, repr=False)
    # Set when a command runs again because its asker confirmed it (bot.blocks.confirm): ask nothing again.
    confirmed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        url = self.respond.response_url if self.respond is not None else None
        if url and not reply_url_allowed(url, self.deps.settings.slack_api_url, self.deps.settings.reply_hosts):
            # Signed requests come from Slack, whose response_urls are on its own hosts: answer through the Web
            # API instead of sending anything to another host.
            log.warning("response_url on a host that is not Slack's; answering through the Web API")
            self.respond = None

    @classmethod
    def of(cls, deps: Deps, client: AsyncWebClient, respond: AsyncRespond | None, origin: Origin) -> Ctx:
        """From where a payload came."""
        return cls(deps, client, respond, origin.team_id, origin.user_id, origin.channel_id, origin.trigger_id,
                   origin.enterprise_id)

    @classmethod
    def of_command(cls, deps: Deps, client: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any]) -> Ctx:
        """From a slash-command payload."""
        return cls.of(deps, client, respond, flat_origin(body))

    @classmethod
    def of_interaction(cls, deps: Deps, client: AsyncWebClient, respond: AsyncRespond | None,
                       body: dict[str, Any]) -> Ctx:
        """From a block_actions or view_submission payload."""
        return cls.of(deps, client, respond, interaction_origin(body))

    @classmethod
    def of_modal(cls, deps: Deps, client: AsyncWebClient, body: dict[str, Any]) -> tuple[Ctx, ModalMeta]:
        """From a view_submission: the submitter, in the workspace and channel the modal was opened for."""
        meta = ModalMeta.model_validate_json(private_metadata(body))
        ctx = cls.of_interaction(deps, client, None, body)
        ctx.team_id, ctx.channel_id = meta.team_id, meta.channel_id
        return ctx, meta

    async def _to_response_url(self, url: str, text: str, blocks: Blocks | None, response_type: str | None,
                               replace: bool) -> bool:
        # On the Web API client's pooled HTTP session: one kept-alive connection instead of one per reply.
        assert self.respond is not None
        hook = AsyncWebhookClient(url, session=self.client.session, timeout=15, proxy=self.respond.proxy,
                                  ssl=self.respond.ssl)
        # AsyncWebhookClient.send does not raise on a refusal: Slack's answer (used_url after 5 answers,
        # expired_url after 30 minutes, invalid_blocks) comes back as a 4xx status and a body.
        try:
            answer = await hook.send(text=text, blocks=blocks, response_type=response_type, replace_original=replace)
            status, said = answer.status_code, answer.body
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, said = None, type(exc).__name__
        if status == 200:
            return True
        self._url_refused = True  # a spent or expired url stays so: the next answers go straight to the Web API
        cid = self.correlation_id or uuid.uuid4().hex[:12]
        log.warning("response_url refused a reply (%s %s), correlation id %s; answering through the Web API",
                    status, str(said)[:200], cid)
        return False

    def _can_use_url(self) -> bool:
        return self.respond is not None and bool(self.respond.response_url) and not self._url_refused

    async def _direct(self, text: str, blocks: Blocks | None) -> None:
        """Ephemeral in the channel the caller acted from; a DM when that cannot reach them (they are not in it, or
        the bot cannot post there)."""
        if self.channel_id.startswith(("C", "G")):
            try:
                await self.client.chat_postEphemeral(channel=self.channel_id, user=self.user_id, text=text,
                                                     blocks=blocks)
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in EPHEMERAL_UNREACHABLE:
                    raise
                log.info("an ephemeral reply in %s could not reach the caller (%s); sending it as a DM",
                         self.channel_id, exc.response.get("error"))
        await self.client.chat_postMessage(channel=self.user_id, text=text, blocks=blocks)

    async def reply(self, text: str, blocks: Blocks | None = None, *, replace: bool = False) -> None:
        """Answer the caller only (ephemeral): through response_url while it takes answers, else the Web API."""
        if self._can_use_url():
            assert self.respond is not None and self.respond.response_url
            if await self._to_response_url(self.respond.response_url, text, blocks, "ephemeral", replace):
                return
        await self._direct(text, blocks)

    async def replace_message(self, text: str, blocks: Blocks | None = None) -> None:
        """Replace the message whose button was clicked; when the response_url refuses, tell the caller instead."""
        if self.respond is None or not self.respond.response_url:
            return
        if self._url_refused or not await self._to_response_url(self.respond.response_url, text, blocks, None, True):
            await self._direct(text, blocks)

    async def announce(self, text: str, blocks: Blocks | None = None) -> None:
        """Answer in the channel for everyone, through response_url (works where the bot is not a member)."""
        if self.respond is None or not self.respond.response_url:
            return
        if not self._url_refused and await self._to_response_url(self.respond.response_url, text, blocks,
                                                                 "in_channel", False):
            return
        try:
            await self.client.chat_postMessage(channel=self.channel_id, text=text, blocks=blocks)
        except SlackApiError as exc:  # e.g. not_in_channel: the caller at least hears it
            log.warning("could not announce in %s (%s); telling the caller", self.channel_id,
                        exc.response.get("error"))
            await self._direct(text, blocks)

    async def ask(self, lines: list[str], command: str, *, yes: str, cancelled: str) -> None:
        """Ask the caller before `command` (the text after `/retro`, as Slack sent it) goes ahead: the question, a
        button that runs the command again, confirmed, and one that does not."""
        request = Confirmation(command=command, user=self.user_id, cancelled=cancelled)
        if len(request.value()) > BUTTON_VALUE_MAX:
            raise RetroError(f"This needs your confirmation, but the command is too long to carry on a button "
                             f"({len(command):,} characters): shorten its free text (a reason, a title) and run it "
                             "again.")
        await self.reply("\n".join(lines), confirm_blocks(lines, request, yes=yes))

    async def names(self, uids: Iterable[str]) -> dict[str, str]:
        """Display names of these people, for text where Slack shows no mention as a name (kept for a day)."""
        return await names_of(self.client, self.deps, self.team_id, uids)

    async def plain_error(self, error: RetroError) -> str:
        """A domain error as plain text with people by name (a modal's field error, where Slack shows `<@U…>` as
        typed); an id stays when its name does not come in time (the modal must be answered within 3 s)."""
        try:
            names = await asyncio.wait_for(self.names(error.people.values()), NAMES_WITHIN) if error.people else {}
        except (TimeoutError, SlackApiError, SQLAlchemyError):
            names = {}
        return error.render(lambda uid: f"@{names.get(uid) or uid}")

    def happened(self, at: datetime | None) -> str:
        """`happened at 10:05 CET`, in the team's timezone, for a reply about something given with `at=`."""
        return f"happened at {spoken(at, now=self.deps.now(), tz=self.deps.catalog.tz)}" if at else ""

    async def open_modal(self, title: str, build: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """Open a loading modal at once, then fill it with `build()` (whose lookups may outlast the trigger id)."""
        opened = await self.client.views_open(trigger_id=self.trigger_id, view=loading_modal(title))
        view_id = str(opened["view"]["id"])
        try:
            view = await build()
        except RetroError as exc:
            # The person may have closed the loading modal, or opened another one over it (views.open replaces an
            # open modal): the error then reaches them as a reply instead (the caller's error handling, below).
            await self._fill(view_id, notice_modal(title, f":warning: {error_text(exc)}"))
            raise
        await self._fill(view_id, view)

    async def _fill(self, view_id: str, view: dict[str, Any]) -> None:
        """Put `view` in the modal opened as `view_id`, unless the modal is gone (closed or replaced)."""
        try:
            await self.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            if exc.response.get("error") != "not_found":
                raise
            log.info("the modal %s was closed before it was filled", view_id)

    async def tell_declared(self, incident: Incident) -> None:
        """Tell the declarer, and the channel it was declared from unless the incident is private."""
        await self.reply(declared_reply(incident, self.deps.catalog))
        if not incident.private and self.channel_id != incident.channel_id:
            await self.announce(declared_notice(incident, self.deps.catalog))

    async def incident(self) -> Incident:
        """The incident of the current channel, or a clear error listing the open ones."""
        async with self.deps.session() as session:
            return await incidents.require_in_channel(session, self.team_id, self.channel_id)

    async def incident_by_id(self, ref: str | int) -> Incident:
        """An incident named by a button or modal, in this workspace, that the caller may act on."""
        async with self.deps.session() as session:
            incident = await incidents.by_reference(session, str(ref), team_id=self.team_id)
        if incident.private and not await self.is_member(incident.channel_id):
            raise NotAllowedError("This incident is private: only members of its channel can act on it.")
        return incident

    async def visible(self, found: list[Incident]) -> list[Incident]:
        """The incidents the caller may see: public ones, and private ones whose channel they are in."""
        return [i for i in found if not i.private or await self.is_member(i.channel_id)]

    async def is_member(self, channel_id: str) -> bool:
        """Whether the caller is a member of a private channel (one users.conversations call per request)."""
        if self._membership is None:
            self._membership = Membership(self.client, self.user_id)
        return await self._membership.is_member(channel_id)
