"""A database, a clock and a recording Slack client for reminder and ledger tests below the HTTP layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlmodel import col, select

from bot.app.wiring import build_deps
from bot.catalog import Catalog, load_catalog
from bot.config import Settings
from bot.deps import Deps
from bot.followup import action_items
from bot.incident import incidents, roles
from bot.slack.sweep import SweepReport, sweep
from storage.models import ActionItem, Incident, Reminder
from tests.conftest import FakeClock

TEAM = "T0TEST"
ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
# Monday 2 March 2026, 08:00 UTC: reminders go out at 09:00 UTC by default.
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def slack_error(error: str, *, status: int = 200, retry_after: int | None = None) -> SlackApiError:
    """The exception AsyncWebClient raises for an `ok: false` answer (or a 429)."""
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    response = AsyncSlackResponse(client=None, http_verb="POST", api_url="https://slack.test/api/chat.postMessage",
                                  req_args={}, data={"ok": False, "error": error}, headers=headers,
                                  status_code=status)
    return SlackApiError(f"The request to the Slack API failed: {error}", response)  # type: ignore[no-untyped-call]


@dataclass
class RecordingSlack:
    """Stands in for AsyncWebClient: records what would have been sent; `fail` queues errors for next posts."""

    token: str = "xoxb-recording"
    posts: list[dict[str, Any]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    fail: list[Exception] = field(default_factory=list)
    calls: int = 0

    async def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise self.fail.pop(0)
        self.posts.append(kwargs)
        return {"ok": True, "ts": f"{1700000000 + len(self.posts)}.000100", "channel": kwargs.get("channel")}

    async def views_publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"ok": True}

    async def conversations_join(self, **kwargs: Any) -> dict[str, Any]:
        return {"ok": True}

    def to(self, channel: str) -> list[dict[str, Any]]:
        """Posts addressed to one user (DM) or channel."""
        return [p for p in self.posts if p.get("channel") == channel]

    def kinds(self, channel: str | None = None) -> list[str]:
        """The reminder kinds delivered (from the message metadata), optionally to one recipient."""
        return [str(p["metadata"]["event_payload"]["kind"]) for p in self.posts
                if p.get("metadata") and (channel is None or p.get("channel") == channel)]


@dataclass
class World:
    """Deps on a migrated database, a fake clock and a recording client."""

    deps: Deps
    clock: FakeClock
    slack: RecordingSlack

    async def incident(self, title: str = "Fraud model precision drop", *, sev: int = 3,
                       commander: str = ALICE, channel: str = "C0INC1") -> Incident:
        """Declare an incident straight through the domain (no Slack channel behind it)."""
        decl = incidents.validate_declaration(self.deps.catalog, title=title, severity=sev, category="data-drift")
        async with self.deps.session() as s:
            return await incidents.create(s, team_id=TEAM, decl=decl, declared_by=commander, declared_in="C0GENERAL",
                                          channel_id=channel, channel_name=f"inc-{channel.lower()}", now=self.clock())

    async def assign(self, incident: Incident, role: str, user: str, *, actor: str = ALICE) -> None:
        """Give someone a role."""
        async with self.deps.session() as s:
            await roles.assign(s, catalog=self.deps.catalog, incident=incident, role=role, user=user, actor=actor,
                               now=self.clock())

    async def action(self, incident: Incident, due: str, *, owner: str = BOB, actor: str = ALICE,
                     title: str = "Alert on feature null rate") -> action_items.Change:
        """Create an action item as `actor`."""
        item = action_items.validate(self.deps.catalog, title=title, owner=owner, due=due, kind="monitor",
                                     hypothesis=None, now=self.clock())
        async with self.deps.session() as s:
            return await action_items.create(s, catalog=self.deps.catalog, incident=incident, item=item, actor=actor,
                                        now=self.clock())

    async def sweep(self, **kwargs: Any) -> SweepReport:
        """One sweep at the clock's current time."""
        return await sweep(self.deps, self.slack, now=self.clock(), **kwargs)  # type: ignore[arg-type]

    async def reminders(self, *, status: str | None = None) -> list[Reminder]:
        """Reminder rows, soonest first."""
        async with self.deps.session() as s:
            query = select(Reminder).order_by(col(Reminder.due_at), col(Reminder.id))
            if status is not None:
                query = query.where(Reminder.status == status)
            return list((await s.exec(query)).all())

    async def item(self, action_id: int) -> ActionItem:
        """An action item as stored."""
        async with self.deps.session() as s:
            row = await s.get(ActionItem, action_id)
            assert row is not None
            return row


def catalog_with(**changes: Any) -> Catalog:
    """The shipped catalog with some top-level sections replaced (e.g. reminders={...})."""
    base = load_catalog()
    data = base.model_dump()
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return Catalog.model_validate(data)


@asynccontextmanager
async def world(database_url: str, *, start: datetime = T0, catalog: Catalog | None = None) -> AsyncIterator[World]:
    """Deps on an already migrated database, with a fake clock starting at `start` and a recording client."""
    clock = FakeClock(start)
    deps = build_deps(Settings.model_validate({"database_url": database_url}), clock=clock)
    if catalog is not None:
        deps.catalog = catalog
    w = World(deps, clock, RecordingSlack())
    try:
        yield w
    finally:
        await w.deps.close()  # a test may have swapped in a new process's Deps


def day(text: str) -> date:
    """A date from ISO text."""
    return date.fromisoformat(text)
