"""Token rotation, end to end: an app with token_rotation_enabled installed by OAuth gets 12-hour tokens; past their
expiry (on a clock Slack's side shares), a slash command still works and a scheduled reminder still arrives, each
refreshing the token once, with the refresh token sealed at rest like the token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.app.local import LocalStack, local_stack
from bot.slack.installs import client_for
from bot.slack.sweep import sweep
from sandbox import SlackDriver, SlackError
from sandbox.tenancy import ACCESS_TOKEN_TTL
from storage.token_cipher import is_sealed
from tests.conftest import FakeClock
from tests.e2e.test_multiworkspace import declare_in, install
from tests.reminder_world import T0, catalog_with

ACME = "T0ACME"
REMINDER_AT = T0 + timedelta(days=3, hours=1)  # the action item's reminder is due (see tests/e2e/test_grid.py)


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2 March 2026, 08:00 UTC: Retro's clock, which the sandbox's expiries follow too."""
    return FakeClock(T0)


@pytest.fixture
async def rotating(database_url: str, clock: FakeClock) -> AsyncIterator[LocalStack]:
    """Multi-workspace mode, the app's token rotation on, Acme not installed yet."""
    env = {"retro_encryption_key": Fernet.generate_key().decode()}
    async with local_stack(database_url=database_url, oauth=True, env=env, clock=clock, slack_on_clock=True) as stack:
        stack.emulator.add_workspace(ACME, name="Acme", domain="acme", installed=False)
        stack.emulator.app_settings(org_deploy_enabled=False, token_rotation_enabled=True)
        stack.deps.catalog = catalog_with(triage={"prompt_every_minutes": None})
        yield stack


def refreshes(stack: LocalStack) -> int:
    """How many times Retro exchanged a refresh token."""
    return sum(1 for c in stack.emulator.calls_for("oauth.v2.access") if c.params.get("grant_type") == "refresh_token")


async def stored(stack: LocalStack) -> list[tuple[str, str]]:
    """(bot_token, bot_refresh_token) of every bot row, as stored."""
    async with stack.deps.engine.connect() as conn:
        rows = await conn.execute(text("SELECT bot_token, bot_refresh_token FROM slack_bots"))
        return [(str(a), str(b)) for a, b in rows.all()]


async def test_past_expiry_a_command_works_and_a_reminder_arrives(rotating: LocalStack, clock: FakeClock) -> None:
    stack = rotating
    await install(stack, ACME)
    store = stack.deps.installation_store
    first = await store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert first.bot_token.startswith("xoxe.xoxb-") and first.bot_refresh_token.startswith("xoxe-1-")
    assert abs(first.bot_token_expires_at - (T0.timestamp() + ACCESS_TOKEN_TTL)) <= 2  # on Retro's clock
    acme = SlackDriver(stack.emulator, team_id=ACME)
    incident = await declare_in(stack, acme, "Acme ranking drift")
    reply = await acme.command("alice", incident.channel_name, "action Add a canary owner=@bob due=2026-03-06")
    await stack.settle()
    assert reply.ok and len(acme.dms("bob")) == 1 and refreshes(stack) == 0

    clock.current = T0 + timedelta(seconds=ACCESS_TOKEN_TTL + 60)  # the install's token is dead on both sides
    listing = await acme.command("alice", "#general", "list")
    await stack.settle()
    assert listing.ok and "Acme ranking drift" in listing.text() and "reinstall" not in listing.text()
    assert refreshes(stack) == 1
    second = await store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert second.bot_token != first.bot_token and second.bot_refresh_token != first.bot_refresh_token
    with pytest.raises(SlackError, match="invalid_refresh_token"):
        stack.emulator.tenancy.refresh(first.bot_refresh_token)  # Retro spent it

    clock.current = REMINDER_AT  # the second token is past its 12 hours as well
    report = await sweep(stack.deps, stack.bolt.client, now=clock())
    await stack.settle()
    assert report.sent == 2 and set(report.outcomes) == {"sent"}  # the reminder and the channel's status prompt
    assert len(acme.dms("bob")) == 2 and "Add a canary" in str(acme.dms("bob")[-1])
    assert refreshes(stack) == 2
    rows = await stored(stack)
    assert len(rows) == 1 and all(is_sealed(v) for v in rows[0])  # one bot row, refreshed in place, sealed
    third = await store.async_find_bot(enterprise_id=None, team_id=ACME)
    assert third.bot_token == stack.emulator.bot_token_for(ACME)


async def test_a_token_slack_calls_expired_is_refreshed_and_the_reminder_sent(rotating: LocalStack,
                                                                                 clock: FakeClock) -> None:
    """The stored expiry is wrong (clocks apart): Slack's `token_expired` makes the send refresh and try again."""
    stack = rotating
    await install(stack, ACME)
    acme = SlackDriver(stack.emulator, team_id=ACME)
    incident = await declare_in(stack, acme, "Acme feature skew")
    await acme.command("alice", incident.channel_name, "action Pin the feature store owner=@bob due=2026-03-06")
    await stack.settle()
    store = stack.deps.installation_store
    bot = await store.async_find_bot(enterprise_id=None, team_id=ACME)
    bot.bot_token_expires_at = int((T0 + timedelta(days=30)).timestamp())  # what a skewed clock would have stored
    await store.async_save_bot(bot)
    clock.current = REMINDER_AT
    report = await sweep(stack.deps, stack.bolt.client, now=clock())
    await stack.settle()
    assert set(report.outcomes) == {"sent"} and len(acme.dms("bob")) == 2
    assert refreshes(stack) == 1


async def test_concurrent_sends_spend_the_refresh_token_once(rotating: LocalStack, clock: FakeClock) -> None:
    """Slack's refresh tokens work once: five sends needing a refresh at the same time make one exchange."""
    stack = rotating
    await install(stack, ACME)
    clock.current = T0 + timedelta(seconds=ACCESS_TOKEN_TTL + 60)
    clients = await asyncio.gather(*(client_for(stack.bolt.client, stack.deps, ACME) for _ in range(5)))
    assert len({c.token for c in clients}) == 1 and refreshes(stack) == 1
    assert (await clients[0].auth_test())["team_id"] == ACME
