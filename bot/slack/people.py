"""People, asked of Slack: channel membership (who may see a private incident) and display names."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.incident import names as kept_names
from bot.slack.installs import client_for

log = logging.getLogger("retro.people")
NAME_LOOKUPS = 8
# How long a display name Slack gave is used before users.info is asked again (people rename themselves rarely).
NAME_TTL = timedelta(days=1)
MEMBERSHIP_PAGE = 999  # users.conversations' largest page


async def membership_in(client: AsyncWebClient, deps: Deps, team_id: str, user_id: str) -> Membership:
    """Someone's channel membership in a workspace, asked with that workspace's bot token (not yet: on first use).
    Without a usable token, Slack cannot say: they are in no private channel."""
    try:
        return Membership(await client_for(client, deps, team_id), user_id)
    except SlackApiError as exc:
        log.warning("no bot token for %s (%s): private channels count as not theirs", team_id,
                    exc.response.get("error"))
        return Membership(client, user_id, frozenset())


async def refusal(client: AsyncWebClient, deps: Deps, team_id: str, user_id: str) -> str | None:
    """Why someone may not use the web view (a guest, a deactivated account, one Slack does not know), or None.
    Guests see only the channels they are invited to in Slack, so Retro, which shows the workspace's public
    incidents, is not for them."""
    try:
        user = (await (await client_for(client, deps, team_id)).users_info(user=user_id))["user"]
    except SlackApiError as exc:
        return f"Slack could not say who you are ({exc.response.get('error')})."
    if user.get("deleted"):
        return "This Slack account is deactivated."
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return "Guests of the workspace cannot use Retro on the web: ask in the incident's channel instead."
    return None


class Membership:
    """One person's private channels, asked of Slack once; a channel Slack does not list is one they are not in."""

    def __init__(self, client: AsyncWebClient, user_id: str, channels: frozenset[str] | None = None) -> None:
        self.client, self.user_id = client, user_id
        self._channels = channels  # known already (no token to ask with: none), else asked on first use
        self._asking = asyncio.Lock()

    async def is_member(self, channel_id: str) -> bool:
        """Whether the person is in this private channel (the bot must be in it too, or Slack does not say)."""
        return channel_id in await self.channels()

    async def channels(self) -> frozenset[str]:
        """Ids of the person's private channels that the bot can see, archived ones included."""
        async with self._asking:
            if self._channels is None:
                self._channels = await self._ask()
            return self._channels

    async def _ask(self) -> frozenset[str]:
        found: set[str] = set()
        cursor = None
        try:
            while True:
                # With a bot token, Slack lists someone's private channels only where the bot is a member too.
                resp = await self.client.users_conversations(user=self.user_id, types="private_channel",
                                                             exclude_archived=False, limit=MEMBERSHIP_PAGE,
                                                             cursor=cursor)
                found.update(str(ch["id"]) for ch in resp.get("channels") or [] if ch.get("id"))
                # Pages may be short (even empty) before the end: only an empty next_cursor ends the list.
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            log.warning("channels of %s not fully listed (%s): the unlisted ones count as not theirs", self.user_id,
                        exc.response.get("error"))
        return frozenset(found)


async def display_names(client: AsyncWebClient, uids: list[str]) -> dict[str, str]:
    """Slack display names for user ids (best effort: a failed lookup leaves the id as it is)."""
    limit = asyncio.Semaphore(NAME_LOOKUPS)

    async def one(uid: str) -> tuple[str, str | None]:
        async with limit:
            try:
                user = (await client.users_info(user=uid))["user"]
            except SlackApiError:
                return uid, None
        profile = user.get("profile") or {}
        return uid, profile.get("display_name") or user.get("name") or profile.get("real_name") or None

    found = await asyncio.gather(*(one(uid) for uid in uids))
    return {uid: name for uid, name in found if name}


async def names_of(client: AsyncWebClient, deps: Deps, team_id: str, uids: Iterable[str]) -> dict[str, str]:
    """Display names for user ids, for text Slack does not resolve mentions in: the names kept in the database
    while fresh, users.info for the others (and kept). An id Slack does not name keeps its last known name, or has
    no entry (callers show the id)."""
    wanted = sorted({u for u in uids if u})
    if not wanted:
        return {}
    now = deps.now()
    async with deps.session() as session:
        kept = await kept_names.known(session, team_id, wanted)
    stale = [u for u in wanted if u not in kept or now - kept[u].checked_at > NAME_TTL]
    told = await display_names(client, stale) if stale else {}
    if told:
        async with deps.session() as session:
            await kept_names.remember(session, team_id, told, now)
    return {**{u: row.name for u, row in kept.items()}, **told}
