"""Multi-workspace: the OAuth install flow end to end, workspace isolation, and uninstall."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import select

from bot.app import offline
from bot.app.local import SANDBOX_CLIENT_SECRET, LocalStack, local_stack
from bot.incident import incidents
from sandbox import SlackDriver
from storage.models import ActionItem, Evidence, Incident, Reminder, RoleAssignment, TimelineEntry, Workspace
from storage.token_cipher import is_sealed

ACME, GLOBEX = "T0ACME", "T0GLOBEX"
KEY = Fernet.generate_key().decode()


@pytest.fixture
async def oauth_stack(database_url: str) -> AsyncIterator[LocalStack]:
    async with local_stack(database_url=database_url, oauth=True, env={"retro_encryption_key": KEY}) as stack:
        for team, name in ((ACME, "Acme"), (GLOBEX, "Globex")):
            stack.emulator.add_workspace(team, name=name, domain=name.lower(), installed=False)
        yield stack


async def install(stack: LocalStack, team: str) -> None:
    install_url = stack.events_url.replace("/slack/events", "/slack/install")
    status, body = await stack.emulator.install_app(install_url, team_id=team)
    assert status == 200, body


async def declare_in(stack: LocalStack, driver: SlackDriver, title: str) -> Incident:
    result = await driver.command("alice", "#general", f"start {title} sev=2 type=data-drift")
    assert result.ok
    await stack.settle()
    async with stack.deps.session() as s:
        found = [i for i in await incidents.open_incidents(s, driver.ws.team_id) if i.title == title]
    assert found, result.text()
    return found[0]


async def test_install_then_events_for_that_team_are_authorised(oauth_stack: LocalStack) -> None:
    stack = oauth_stack
    acme = SlackDriver(stack.emulator, team_id=ACME)
    await install(stack, ACME)
    bot = await stack.deps.installation_store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert bot is not None and bot.bot_token.startswith("xoxb-")
    async with stack.deps.session() as s:
        ws = await s.get(Workspace, ACME)
        assert ws is not None and ws.uninstalled_at is None and ws.name == "Acme"
    incident = await declare_in(stack, acme, "Acme drift")
    assert incident.team_id == ACME
    await acme.post("bob", incident.channel_name, "seen in acme")
    await stack.settle()
    async with stack.deps.session() as s:
        from bot.record import chain

        kinds = [e.kind for e in await chain.entries_of(s, incident.id or 0)]
    assert "message" in kinds


async def test_workspace_a_never_sees_or_changes_workspace_b(oauth_stack: LocalStack) -> None:
    stack = oauth_stack
    await install(stack, ACME)
    await install(stack, GLOBEX)
    acme, globex = SlackDriver(stack.emulator, team_id=ACME), SlackDriver(stack.emulator, team_id=GLOBEX)
    a = await declare_in(stack, acme, "Acme secret model regression")
    await acme.command("alice", a.channel_name, "evidence log https://acme.example.com/logs acme only")
    await acme.command("alice", a.channel_name, "action Add a guardrail owner=<@U0ALICE|alice> due=+3d")
    await stack.settle()
    b = await declare_in(stack, globex, "Globex drift")
    listing = await globex.command("alice", "#general", "list")
    await stack.settle()
    assert "Globex drift" in listing.text() and "Acme secret" not in listing.text()
    search = await globex.command("alice", "#general", "search secret regression")
    my = await globex.command("alice", "#general", "my")
    await stack.settle()
    assert "Acme" not in search.text() and "guardrail" not in my.text()
    async with stack.deps.session() as s:
        assert await incidents.by_channel(s, GLOBEX, a.channel_id) is None
        with pytest.raises(Exception, match="No incident"):
            await incidents.by_reference(s, str(a.id), team_id=GLOBEX)
        rows = (await s.exec(select(Incident).where(Incident.team_id == GLOBEX))).all()
        assert [r.id for r in rows] == [b.id]
        # every row recorded for Acme's incident carries Acme's workspace
        for table in (TimelineEntry, Evidence, RoleAssignment, ActionItem):
            owned = (await s.exec(select(table).where(table.incident_id == a.id))).all()  # type: ignore[attr-defined]
            assert owned and {r.team_id for r in owned} == {ACME}, table.__name__


async def test_uninstall_drops_tokens_and_reminders_but_keeps_records(oauth_stack: LocalStack) -> None:
    stack = oauth_stack
    await install(stack, ACME)
    acme = SlackDriver(stack.emulator, team_id=ACME)
    incident = await declare_in(stack, acme, "Acme outage")
    await acme.command("alice", incident.channel_name, "action Add a monitor owner=<@U0ALICE|alice> due=+3d")
    await stack.settle()
    async with stack.deps.session() as s:
        pending = (await s.exec(select(Reminder).where(Reminder.team_id == ACME,
                                                       Reminder.status == "pending"))).all()
    assert pending, "an action item should have scheduled reminders"
    await stack.emulator.uninstall(ACME)
    await stack.settle()
    assert await stack.deps.installation_store.async_find_bot(enterprise_id=None, team_id=ACME) is None
    async with stack.deps.session() as s:
        statuses = {r.status for r in (await s.exec(select(Reminder).where(Reminder.team_id == ACME))).all()}
        assert "pending" not in statuses and "cancelled" in statuses
        kept = await s.get(Incident, incident.id)
        assert kept is not None and kept.title == "Acme outage"
        ws = await s.get(Workspace, ACME)
        assert ws is not None and ws.uninstalled_at is not None


async def test_tokens_never_leave_the_store(oauth_stack: LocalStack, caplog: pytest.LogCaptureFixture,
                                            tmp_path: Path) -> None:
    """Installed at full debug logging: the bot token is sealed at rest and appears in no log record, no message
    or reply Slack received, no metric and no exported bundle."""
    stack = oauth_stack
    caplog.set_level(logging.DEBUG)
    for name in ("slack_sdk", "slack_bolt", "retro", "aiosqlite", "sqlalchemy"):
        caplog.set_level(logging.DEBUG, logger=name)
    await install(stack, ACME)
    bot = await stack.deps.installation_store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert bot is not None and bot.bot_token == stack.emulator.bot_token_for(ACME)
    acme = SlackDriver(stack.emulator, team_id=ACME)
    incident = await declare_in(stack, acme, "Acme token drift")
    replies = [await acme.command("alice", incident.channel_name, cmd)
               for cmd in ("status", "evidence log https://acme.example.com/logs where it broke", "help")]
    await acme.post("bob", incident.channel_name, "rolling back the model")
    await stack.settle()
    assert all(r.ok for r in replies) and "Recorded *E1*" in replies[1].text()
    secrets = {"bot token": bot.bot_token, "encryption key": KEY, "client secret": SANDBOX_CLIENT_SECRET}

    async with stack.deps.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT bot_token FROM slack_bots"))).scalars().all()
    assert stored and all(is_sealed(v) for v in stored)
    assert caplog.records, "debug logging was on"
    logged = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    seen_by_slack = "\n".join([repr([c.params for c in stack.emulator.calls]), *(r.text() for r in replies),
                               *(repr((ws.messages, ws.ephemerals, ws.hooks, ws.views, ws.home_views))
                                 for ws in stack.emulator.tenancy.workspaces.values())])
    metrics = stack.deps.metrics.exposition().decode()
    folder = tmp_path / "bundle"
    assert await offline.export_incident(stack.settings, str(incident.id), folder) == 0
    bundle = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.iterdir()))
    assert "rolling back the model" in bundle and "retro_requests_total" in metrics
    for what, secret in secrets.items():
        for where, found in {"logs": logged, "Slack": seen_by_slack, "metrics": metrics, "bundle": bundle}.items():
            assert secret not in found, f"the {what} appears in the {where}"
