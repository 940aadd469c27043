"""Installed workspaces in multi-workspace mode: Enterprise Grid installs get their scheduled messages, uninstalled
workspaces get no new prompts or digests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from bot.followup import prompts
from bot.slack.sweep import sweep
from sandbox import SlackDriver
from storage.models import Reminder, Workspace
from tests.conftest import FakeClock
from tests.e2e.test_multiworkspace import declare_in, install
from tests.reminder_world import T0, catalog_with

GRID_TEAM, ENTERPRISE = "T0INITECH", ("E0GLOBEX", "Globex Holdings")
PLAIN_TEAM = "T0ACME"


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2 March 2026, 08:00 UTC."""
    return FakeClock(T0)


@pytest.fixture
async def grid_stack(database_url: str, clock: FakeClock) -> AsyncIterator[LocalStack]:
    """Multi-workspace mode on the test's clock: a workspace of a Grid org and a plain one, neither installed."""
    env = {"retro_encryption_key": Fernet.generate_key().decode()}
    async with local_stack(database_url=database_url, oauth=True, env=env, clock=clock) as stack:
        stack.emulator.tenancy.add(GRID_TEAM, name="Initech", domain="initech", installed=False,
                                   enterprise=ENTERPRISE)
        stack.emulator.add_workspace(PLAIN_TEAM, name="Acme", domain="acme", installed=False)
        stack.deps.catalog = catalog_with(triage={"prompt_every_minutes": None})
        yield stack


async def test_a_grid_workspace_installed_by_oauth_gets_its_scheduled_reminder(grid_stack: LocalStack,
                                                                               clock: FakeClock) -> None:
    stack = grid_stack
    await install(stack, GRID_TEAM)
    async with stack.deps.session() as s:
        row = await s.get(Workspace, GRID_TEAM)
        assert row is not None and row.enterprise_id == ENTERPRISE[0]
    grid = SlackDriver(stack.emulator, team_id=GRID_TEAM)
    incident = await declare_in(stack, grid, "Initech churn model drift")
    reply = await grid.command("alice", incident.channel_name,
                               "action Retrain on fresh data owner=@bob due=2026-03-06")
    await stack.settle()
    assert reply.ok and len(grid.dms("bob")) == 1, reply.text()  # the assignment, sent answering the command
    clock.current = T0 + timedelta(days=3, hours=1)
    report = await sweep(stack.deps, stack.bolt.client, now=clock())
    await stack.settle()
    assert report.sent == 2 and set(report.outcomes) == {"sent"}  # the reminder and the channel's status prompt
    assert len(grid.dms("bob")) == 2 and "Retrain on fresh data" in str(grid.dms("bob")[-1])
    async with stack.deps.session() as s:
        rows = (await s.exec(select(Reminder).where(Reminder.team_id == GRID_TEAM))).all()
    assert not [r for r in rows if r.status == "failed"]


async def test_an_uninstalled_workspace_gets_no_new_prompts_or_digests(grid_stack: LocalStack,
                                                                        clock: FakeClock) -> None:
    stack = grid_stack
    stack.deps.catalog = catalog_with(triage={"prompt_every_minutes": None}, digest={"channel": "ml-followups"})
    await install(stack, PLAIN_TEAM)
    acme = SlackDriver(stack.emulator, team_id=PLAIN_TEAM)
    incident = await declare_in(stack, acme, "Acme ranking outage")
    await acme.command("alice", incident.channel_name, "action Add a canary owner=@bob due=2026-03-06")
    await stack.settle()
    await stack.emulator.uninstall(PLAIN_TEAM)
    await stack.settle()
    clock.current = T0 + timedelta(days=7)
    async with stack.deps.session() as s:
        assert await prompts.materialize(s, catalog=stack.deps.catalog, now=clock()) == 0
        assert await prompts.enqueue_digests(s, catalog=stack.deps.catalog, now=clock()) == []
        pending = (await s.exec(select(Reminder).where(Reminder.team_id == PLAIN_TEAM,
                                                       Reminder.status == "pending"))).all()
    assert pending == []
