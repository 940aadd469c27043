"""Fixtures: a started emulator, a recording app endpoint, a driver and a real slack_sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.fakeapp import FakeApp

SECRET = "test-signing-secret"
TOKEN = "xoxb-sandbox-token"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET, trigger_ttl=0.3, retry_delay=0.01, delivery_timeout=1.0)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def app(emulator: SlackEmulator) -> AsyncIterator[FakeApp]:
    fake = FakeApp(SECRET)
    emulator.events_url = await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=emulator.api_url)


@pytest.fixture
def driver(emulator: SlackEmulator) -> SlackDriver:
    return SlackDriver(emulator)
