"""A complete local stack: the Slack emulator plus the real bot over HTTP (tests, `retro sandbox`, `retro demo`)."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.app.factory import create_app
from bot.app.scheduler import ReminderScheduler, start_scheduler
from bot.app.server import build_web_app
from bot.app.wiring import build_deps
from bot.config import Settings
from bot.deps import Deps, utc_now
from bot.slack.alert_runner import AlertRunner, start_alert_runner
from bot.slack.client import make_client
from bot.slack.identity import learn_identity
from sandbox import SlackDriver, SlackEmulator
from storage.migrate import upgrade_async

SANDBOX_SECRET = "sandbox-signing-secret"
SANDBOX_TOKEN = "xoxb-sandbox-token"
SANDBOX_CLIENT_ID = "1111.2222"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"


def manifest_events() -> list[str] | None:
    """The bot events manifest.yml subscribes to, so the sandbox delivers only those (None: file not shipped)."""
    path = Path(__file__).resolve().parents[2] / "manifest.yml"
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["settings"]["event_subscriptions"]["bot_events"])


@dataclass
class LocalStack:
    """Everything a scenario needs: the fake Slack, its users, and the bot serving real HTTP."""

    emulator: SlackEmulator
    driver: SlackDriver
    deps: Deps
    bolt: AsyncApp
    events_url: str
    settings: Settings
    scheduler: ReminderScheduler | None = None
    alerts: AlertRunner | None = None

    @property
    def base_url(self) -> str:
        """The bot's HTTP root (the alert endpoints are under /alerts/)."""
        return self.events_url.removesuffix("/slack/events")

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until Slack has delivered everything and the bot has finished all work it acked."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            await self.emulator.drain(timeout)
            if self.deps.inflight.count == 0 and self.emulator.activity.inflight == 0:
                await asyncio.sleep(0.01)
                if self.deps.inflight.count == 0 and self.emulator.activity.inflight == 0:
                    return
            await self.deps.inflight.wait_idle(timeout)
        raise TimeoutError("the sandbox did not settle")


@asynccontextmanager
async def local_stack(*, database_url: str | None = None, clock: Callable[[], datetime] = utc_now,
                      env: dict[str, Any] | None = None, scheduler: bool = False,
                      oauth: bool = False, artifacts_dir: Path | None = None,
                      prepare: Callable[[SlackEmulator], None] | None = None,
                      slack_on_clock: bool = False, alerts: bool | None = None) -> AsyncIterator[LocalStack]:
    """Start the emulator and the bot on free loopback ports; tear both down afterwards.

    The reminder scheduler only runs with `scheduler=True`; tests call `bot.slack.sweep.sweep` themselves. The alert
    runner runs when RETRO_ALERT_TOKEN is set (`env={"retro_alert_token": …}`), unless `alerts=False`.
    With `oauth`, the bot runs multi-workspace (tokens come from installs) and nothing is installed yet.
    `prepare` sees the emulator before it starts (to resume a saved workspace); collected artifacts go to
    `artifacts_dir`, else to a temporary folder. With `slack_on_clock`, the sandbox's expiries (tokens, triggers,
    response_urls) follow `clock` too, so a test that moves it ages Slack's side as well.
    """
    slack_clock: Callable[[], float] = (lambda: clock().timestamp()) if slack_on_clock else time.monotonic
    emulator = SlackEmulator(signing_secret=SANDBOX_SECRET, bot_token=SANDBOX_TOKEN,
                             event_subscriptions=manifest_events(), clock=slack_clock)
    if prepare is not None:
        prepare(emulator)
    await emulator.start()
    # The bot's port is taken first: its own address goes into its settings (the web view's public URL).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with tempfile.TemporaryDirectory(prefix="retro-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'retro.db'}"
        # Sign in with Slack uses the app's client id and secret: SLACK_CLIENT_* in OAuth mode, else RETRO_WEB_CLIENT_*.
        credentials = ({"slack_client_id": SANDBOX_CLIENT_ID, "slack_client_secret": SANDBOX_CLIENT_SECRET} if oauth
                       else {"slack_bot_token": SANDBOX_TOKEN, "retro_web_client_id": SANDBOX_CLIENT_ID,
                             "retro_web_client_secret": SANDBOX_CLIENT_SECRET})
        settings = Settings.model_validate({
            **credentials, "slack_signing_secret": SANDBOX_SECRET, "slack_api_url": emulator.api_url,
            "retro_public_url": base_url,
            "database_url": url, "retro_artifacts_dir": artifacts_dir or Path(tmp) / "artifacts",
            "retro_file_hosts": emulator.base_url,  # the sandbox's file host: http, on a loopback port
            **(env or {})})
        await upgrade_async(url)
        deps = build_deps(settings, clock=clock)
        client = make_client(settings, deps=deps)
        bolt = create_app(settings, client=client, deps=deps)
        if not oauth:
            await learn_identity(deps, client)
        runner = web.AppRunner(build_web_app(bolt, deps))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        events_url = f"{base_url}/slack/events"
        emulator.events_url = events_url
        # The app's redirect URLs: the install's (OAuth mode) and the web view's Sign in with Slack callback.
        redirects = [f"{base_url}/slack/oauth_redirect"] if oauth else []
        emulator.configure_oauth(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
                                 redirect_uris=[*redirects, f"{base_url}/web/auth/callback"])
        reminders = await start_scheduler(deps, client) if scheduler else None
        run_alerts = settings.retro_alert_token is not None if alerts is None else alerts
        alert_runner = await start_alert_runner(deps, client) if run_alerts else None
        try:
            yield LocalStack(emulator, SlackDriver(emulator), deps, bolt, events_url, settings, reminders,
                             alert_runner)
        finally:
            if alert_runner is not None:
                await alert_runner.stop()
            if reminders is not None:
                await reminders.stop()
            await emulator.drain()
            await runner.cleanup()
            await deps.close()
            await emulator.stop()

