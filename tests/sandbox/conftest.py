"""Fixtures: a started emulator, a recording app endpoint, a driver and a real slack_sdk client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.fakeapp import FakeApp

SECRET = "test-signing-secret"
TOKEN = "xoxb-sandbox-token"


class SlackClock:
    """Monotonic seconds for the emulator's expiries, moved only by the test."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new reading."""
        self.now += seconds
        return self.now


@pytest.fixture
def slack_clock() -> SlackClock:
    """The clock the emulator reads for every expiry (trigger ids, response_urls, OAuth codes)."""
    return SlackClock()


@pytest.fixture
async def emulator(slack_clock: SlackClock) -> AsyncIterator[SlackEmulator]:
    """A started emulator whose expiries follow `slack_clock` (Slack's own 3 s trigger ttl)."""
    emu = SlackEmulator(signing_secret=SECRET, retry_delay=0.01, delivery_timeout=1.0, clock=slack_clock)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def app(emulator: SlackEmulator) -> AsyncIterator[FakeApp]:
    """A recording app endpoint the emulator sends events, commands and interactions to."""
    fake = FakeApp(SECRET)
    emulator.events_url = await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    """The real slack_sdk client, pointed at the emulator."""
    return AsyncWebClient(token=TOKEN, base_url=emulator.api_url)


@pytest.fixture
def driver(emulator: SlackEmulator) -> SlackDriver:
    """The emulator's human side: people typing, clicking and submitting."""
    return SlackDriver(emulator)
