"""The typed context a subcommand or interaction works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks import Blocks
from bot.deps import Deps
from bot.errors import NotAllowedError
from bot.incident import incidents
from bot.slack.people import is_member
from storage.models import Incident


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

    @classmethod
    def of_command(cls, deps: Deps, client: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any]) -> Ctx:
        """From a slash-command payload."""
        return cls(deps, client, respond, str(body.get("team_id", "")), str(body.get("user_id", "")),
                   str(body.get("channel_id", "")), body.get("trigger_id"), body.get("enterprise_id"))

    @classmethod
    def of_interaction(cls, deps: Deps, client: AsyncWebClient, respond: AsyncRespond | None,
                       body: dict[str, Any]) -> Ctx:
        """From a block_actions or view_submission payload."""
        team = body.get("team") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        return cls(deps, client, respond, str(team.get("id") or body.get("user", {}).get("team_id", "")),
                   str(body.get("user", {}).get("id", "")), str(channel or ""), body.get("trigger_id"),
                   (body.get("enterprise") or {}).get("id"))

    async def _to_response_url(self, url: str, text: str, blocks: Blocks | None, response_type: str,
                               replace: bool) -> None:
        # On the Web API client's pooled HTTP session: one kept-alive connection instead of one per reply.
        assert self.respond is not None
        hook = AsyncWebhookClient(url, session=self.client.session, timeout=15, proxy=self.respond.proxy,
                                  ssl=self.respond.ssl)
        await hook.send(text=text, blocks=blocks, response_type=response_type, replace_original=replace)

    async def reply(self, text: str, blocks: Blocks | None = None, *, replace: bool = False) -> None:
        """Answer the caller only (ephemeral), through response_url when there is one."""
        if self.respond is not None and self.respond.response_url:
            await self._to_response_url(self.respond.response_url, text, blocks, "ephemeral", replace)
        elif self.channel_id.startswith(("C", "G")):
            await self.client.chat_postEphemeral(channel=self.channel_id, user=self.user_id, text=text, blocks=blocks)
        else:
            await self.client.chat_postMessage(channel=self.user_id, text=text, blocks=blocks)

    async def announce(self, text: str, blocks: Blocks | None = None) -> None:
        """Answer in the channel for everyone, through response_url (works where the bot is not a member)."""
        if self.respond is not None and self.respond.response_url:
            await self._to_response_url(self.respond.response_url, text, blocks, "in_channel", False)

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
        """Whether the caller is a member of a channel."""
        return await is_member(self.client, channel_id, self.user_id)
