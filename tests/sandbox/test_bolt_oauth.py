"""A real multi-workspace Bolt app (OAuth settings, file stores) installed and uninstalled via the emulator."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncSay
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import SECRET
from tests.sandbox.test_oauth import BASIC_AUTH_DEPRECATED, CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)


@dataclass
class OAuthApp:
    bolt: AsyncApp
    store: FileInstallationStore
    base: str


def build(emulator: SlackEmulator, tmp_path: Path, base: str, *, render_page: bool) -> OAuthApp:
    store = FileInstallationStore(base_dir=str(tmp_path / "installations"), client_id=CLIENT_ID)
    settings = AsyncOAuthSettings(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=["chat:write", "im:history"],
        installation_store=store, redirect_uri=f"{base}/slack/oauth_redirect",
        state_store=FileOAuthStateStore(expiration_seconds=300, base_dir=str(tmp_path / "states"),
                                        client_id=CLIENT_ID),
        authorization_url=emulator.authorize_url, install_page_rendering_enabled=render_page)
    bolt = AsyncApp(signing_secret=SECRET, oauth_settings=settings,
                    client=AsyncWebClient(base_url=emulator.api_url))
    bolt.enable_token_revocation_listeners()

    @bolt.event("message")
    async def on_message(event: dict[str, Any], say: AsyncSay, context: AsyncBoltContext) -> None:
        await say(text=f"heard in {context.team_id}: {event['text']}")

    return OAuthApp(bolt, store, base)


@pytest.fixture(params=[True, False], ids=["install-page", "install-redirect"])
async def oauth_app(request: pytest.FixtureRequest, emulator: SlackEmulator,
                    tmp_path: Path) -> AsyncIterator[OAuthApp]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=[base])
    app = build(emulator, tmp_path, base, render_page=request.param)
    runner = web.AppRunner(app.bolt.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    emulator.events_url = f"{base}/slack/events"
    try:
        yield app
    finally:
        await emulator.drain()
        await runner.cleanup()


async def test_install_authorise_events_and_uninstall(emulator: SlackEmulator, oauth_app: OAuthApp,
                                                      driver: SlackDriver) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    status, body = await emulator.install_app(f"{oauth_app.base}/slack/install", team_id="T0ACME", user="carol")
    assert status == 200 and "Thank you!" in body
    stored = oauth_app.store.find_installation(enterprise_id=None, team_id="T0ACME")
    assert stored is not None
    assert stored.bot_token == emulator.bot_token_for("T0ACME")
    assert (stored.team_name, stored.app_id, stored.bot_user_id, stored.bot_id, stored.user_id) == \
        ("Acme", "A0SANDBOX", acme.bot_user_id, acme.bot_id, acme.user("carol").id)
    assert stored.bot_scopes == ["chat:write", "im:history"]

    acme_driver = driver.for_team("T0ACME")
    await acme_driver.dm("dave", "hello there")
    await emulator.drain()
    assert [m["text"] for m in acme_driver.dms("dave")] == ["hello there", "heard in T0ACME: hello there"]
    assert {c.team_id for c in emulator.calls if c.method == "chat.postMessage"} == {"T0ACME"}
    assert all(d.delivered for d in emulator.deliveries)

    sent = await emulator.uninstall("T0ACME")
    assert [d.type for d in sent] == ["app_uninstalled", "tokens_revoked"]
    assert all(d.delivered for d in sent)
    assert oauth_app.store.find_installation(enterprise_id=None, team_id="T0ACME") is None
    assert oauth_app.store.find_bot(enterprise_id=None, team_id="T0ACME") is None
    await acme_driver.dm("dave", "still there?")
    await emulator.drain()
    assert emulator.deliveries[-1].dropped
    assert [m["text"] for m in acme_driver.dms("dave")][-1] == "still there?"


async def test_reinstall_issues_a_fresh_token(emulator: SlackEmulator, oauth_app: OAuthApp) -> None:
    emulator.add_workspace("T0ACME", name="Acme", domain="acme")
    first = emulator.bot_token_for("T0ACME")
    await emulator.uninstall("T0ACME")
    status, _ = await emulator.install_app(f"{oauth_app.base}/slack/install", team_id="T0ACME")
    assert status == 200
    stored = oauth_app.store.find_bot(enterprise_id=None, team_id="T0ACME")
    assert stored is not None and stored.bot_token == emulator.bot_token_for("T0ACME") != first
    assert not emulator.workspace_for("T0ACME").bot_user.deleted
