"""An org-wide install on Enterprise Grid, end to end: an org admin installs Retro for the whole organization by OAuth,
adds it to one workspace, and that workspace declares an incident, gets its scheduled reminder and a postmortem; the
install's removal forgets the workspaces it served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from bot.app.scheduler import ReminderScheduler
from bot.followup import prompts
from bot.slack.app_home import HomeWatch
from bot.slack.sweep import sweep
from sandbox import SlackDriver
from storage.models import Incident, Reminder, Workspace
from tests.conftest import FakeClock
from tests.e2e.test_multiworkspace import declare_in
from tests.reminder_world import T0, catalog_with

ENTERPRISE, ORG_NAME = "E0GLOBEX", "Globex Holdings"
GRID_TEAM, OTHER_TEAM = "T0INITECH", "T0UMBRELLA"


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2 March 2026, 08:00 UTC."""
    return FakeClock(T0)


@pytest.fixture
async def org_stack(database_url: str, clock: FakeClock) -> AsyncIterator[LocalStack]:
    """Multi-workspace mode on the test's clock: two workspaces of a Grid org, the app org-ready, nothing installed."""
    env = {"retro_encryption_key": Fernet.generate_key().decode()}
    async with local_stack(database_url=database_url, oauth=True, env=env, clock=clock) as stack:
        for team, name in ((GRID_TEAM, "Initech"), (OTHER_TEAM, "Umbrella")):
            stack.emulator.tenancy.add(team, name=name, domain=name.lower(), installed=False,
                                       enterprise=(ENTERPRISE, ORG_NAME))
        stack.emulator.app_settings(org_deploy_enabled=True, token_rotation_enabled=False)
        stack.deps.catalog = catalog_with(triage={"prompt_every_minutes": None})
        yield stack


async def install_org(stack: LocalStack, *teams: str) -> None:
    """An org admin installs Retro for the whole organization, then adds it to these workspaces."""
    install_url = stack.events_url.replace("/slack/events", "/slack/install")
    status, body = await stack.emulator.install_app(install_url, team_id=ENTERPRISE)
    assert status == 200, body
    stack.emulator.add_org_to(ENTERPRISE, *teams)


async def test_a_grid_workspace_installed_org_wide_declares_and_gets_its_reminder(org_stack: LocalStack,
                                                                                  clock: FakeClock) -> None:
    stack = org_stack
    await install_org(stack, GRID_TEAM)
    store = stack.deps.installation_store
    org_bot = await store.async_find_bot(enterprise_id=ENTERPRISE, team_id=None, is_enterprise_install=True)
    assert org_bot is not None and org_bot.is_enterprise_install and org_bot.team_id is None
    async with stack.deps.session() as s:
        assert (await s.exec(select(Workspace))).all() == []  # the install names no workspace

    grid = SlackDriver(stack.emulator, team_id=GRID_TEAM)
    incident = await declare_in(stack, grid, "Initech churn model drift")
    assert incident.team_id == GRID_TEAM and incident.channel_id in grid.ws.channels
    created = stack.emulator.calls_for("conversations.create")[-1]
    assert created.ok and created.params.get("team_id") == GRID_TEAM  # the org token names its workspace
    async with stack.deps.session() as s:
        row = await s.get(Workspace, GRID_TEAM)
        assert row is not None and row.enterprise_id == ENTERPRISE and row.uninstalled_at is None

    reply = await grid.command("alice", incident.channel_name,
                               "action Retrain on fresh data owner=@bob due=2026-03-06")
    await stack.settle()
    assert reply.ok and len(grid.dms("bob")) == 1, reply.text()
    clock.current = T0 + timedelta(days=3, hours=1)
    report = await sweep(stack.deps, stack.bolt.client, now=clock())
    await stack.settle()
    assert report.sent == 2 and set(report.outcomes) == {"sent"}  # the reminder and the channel's status prompt
    assert len(grid.dms("bob")) == 2 and "Retrain on fresh data" in str(grid.dms("bob")[-1])
    stack.deps.catalog = catalog_with(triage={"prompt_every_minutes": None}, digest={"channel": "ml-incidents"})
    target = stack.emulator.create_channel("ml-incidents", creator="alice", team_id=GRID_TEAM)
    assert (await ReminderScheduler(stack.deps, stack.bolt.client).digest()).sent == 1
    await stack.settle()
    assert len(grid.bot_messages(target)) == 1  # the name looked up in Initech's channels, joined, posted
    assert {c.params.get("team_id") for c in stack.emulator.calls_for("conversations.list")} == {GRID_TEAM}

    pm = await grid.command("alice", incident.channel_name, "postmortem")
    await stack.settle()
    assert pm.ok and "warning" not in pm.text()
    shared = [f for f in grid.ws.files.values() if f.completed]
    assert shared and all(f.content for f in shared)  # the draft, uploaded with the org token into Initech
    other = SlackDriver(stack.emulator, team_id=OTHER_TEAM)
    assert not other.ws.installed  # never added: the org token does nothing there


async def test_removing_the_org_install_forgets_the_workspaces_it_served(org_stack: LocalStack,
                                                                         clock: FakeClock) -> None:
    stack = org_stack
    await install_org(stack, GRID_TEAM)
    grid = SlackDriver(stack.emulator, team_id=GRID_TEAM)
    incident = await declare_in(stack, grid, "Initech ranking outage")
    await grid.command("alice", incident.channel_name, "action Add a canary owner=@bob due=2026-03-06")
    await stack.settle()
    await stack.emulator.uninstall_org(ENTERPRISE)
    await stack.settle()
    store = stack.deps.installation_store
    assert await store.async_find_bot(enterprise_id=ENTERPRISE, team_id=None, is_enterprise_install=True) is None
    clock.current = T0 + timedelta(days=7)
    async with stack.deps.session() as s:
        row = await s.get(Workspace, GRID_TEAM)
        assert row is not None and row.uninstalled_at is not None
        assert await prompts.materialize(s, catalog=stack.deps.catalog, now=clock()) == 0
        statuses = {r.status for r in (await s.exec(select(Reminder).where(Reminder.team_id == GRID_TEAM))).all()}
    assert "pending" not in statuses and "cancelled" in statuses


async def test_a_background_home_refresh_asks_the_right_workspace(org_stack: LocalStack) -> None:
    """The scheduler's Home refresh uses the org token for the workspace: who may see a private incident is asked with
    the workspace's team_id (users.conversations answers `missing_argument` without it, and nobody would see it)."""
    stack = org_stack
    await install_org(stack, GRID_TEAM)
    grid = SlackDriver(stack.emulator, team_id=GRID_TEAM)
    declared = await grid.command("alice", "#general", "start Jailbreak of support bot sev=1 type=adversarial")
    await stack.settle()
    assert declared.ok, declared.text()
    watch = HomeWatch()
    await watch.check(stack.bolt.client, stack.deps)  # the first look
    async with stack.deps.session() as s:
        incident = (await s.exec(select(Incident).where(Incident.team_id == GRID_TEAM))).one()
    await grid.command("alice", incident.channel_name, "status mitigated rolled back the prompt template")
    await stack.settle()
    calls = len(stack.emulator.calls)
    assert await watch.check(stack.bolt.client, stack.deps) == 1
    await stack.settle()
    since = stack.emulator.calls[calls:]
    asked = [c for c in since if c.method == "users.conversations"]
    published = [c for c in since if c.method == "views.publish"]
    assert asked and published and all(c.ok for c in asked + published), [(c.method, c.error) for c in since]
    assert {c.params.get("team_id") for c in asked} == {GRID_TEAM}
    assert "Jailbreak" in str(grid.home_view("alice"))
