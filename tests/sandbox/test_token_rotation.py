"""Token rotation: with the app's token_rotation_enabled, OAuth issues 12-hour tokens with single-use refresh tokens,
and an expired token answers `token_expired` on the emulator's clock."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackEmulator
from sandbox.tenancy import ACCESS_TOKEN_TTL
from tests.sandbox.conftest import SlackClock
from tests.sandbox.test_oauth import BASIC_AUTH_DEPRECATED, CLIENT_ID, CLIENT_SECRET, REDIRECT, anonymous, code_for
from tests.sandbox.test_org_install import ENTERPRISE, INITECH, install_org
from tests.sandbox.test_org_install import org as org  # the fixture, re-exported
from tests.sandbox.test_web_api import api_error

pytestmark = pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)


@pytest.fixture
def rotating(emulator: SlackEmulator) -> str:
    """Acme, not installed yet, and an app with token rotation on."""
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.app_settings(org_deploy_enabled=True, token_rotation_enabled=True)
    emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    return "T0ACME"


async def refresh(emulator: SlackEmulator, refresh_token: str) -> dict[str, Any]:
    """Exchange a refresh token as slack_sdk's token rotator does."""
    resp = await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                                     grant_type="refresh_token", refresh_token=refresh_token)
    return dict(resp.data)  # type: ignore[arg-type]


def client(emulator: SlackEmulator, token: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=emulator.api_url)


async def test_tokens_expire_on_the_clock_and_refresh_tokens_work_once(emulator: SlackEmulator, rotating: str,
                                                                       slack_clock: SlackClock) -> None:
    code = await code_for(emulator, rotating)
    first = (await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                       redirect_uri=REDIRECT)).data
    assert isinstance(first, dict)
    assert first["access_token"].startswith("xoxe.xoxb-1-") and first["refresh_token"].startswith("xoxe-1-")
    assert first["expires_in"] == ACCESS_TOKEN_TTL == 43200 and first["team"]["id"] == rotating
    slack_clock.advance(ACCESS_TOKEN_TTL - 1)
    assert (await client(emulator, first["access_token"]).auth_test())["team_id"] == rotating
    slack_clock.advance(1)
    assert await api_error(client(emulator, first["access_token"]).auth_test()) == "token_expired"
    with pytest.raises(KeyError):
        emulator.bot_token_for(rotating)  # no live token until the app refreshes

    second = await refresh(emulator, first["refresh_token"])
    assert second["token_type"] == "bot" and second["expires_in"] == ACCESS_TOKEN_TTL
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert (await client(emulator, second["access_token"]).auth_test())["team_id"] == rotating
    assert emulator.bot_token_for(rotating) == second["access_token"]
    # "The refresh token is then revoked": a spent one never works again, even before the new one is used.
    with pytest.raises(Exception, match="invalid_refresh_token"):
        await refresh(emulator, first["refresh_token"])

    third = await refresh(emulator, second["refresh_token"])
    slack_clock.advance(ACCESS_TOKEN_TTL // 2)
    assert (await client(emulator, second["access_token"]).auth_test())["ok"]  # valid until its own expiry
    assert (await client(emulator, third["access_token"]).auth_test())["ok"]


async def test_uninstalling_kills_the_refresh_token(emulator: SlackEmulator, rotating: str,
                                                    slack_clock: SlackClock) -> None:
    code = await code_for(emulator, rotating)
    first = (await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                       redirect_uri=REDIRECT)).data
    assert isinstance(first, dict)
    slack_clock.advance(ACCESS_TOKEN_TTL + 60)  # expired, not yet refreshed
    await emulator.uninstall(rotating)
    with pytest.raises(Exception, match="invalid_refresh_token"):
        await refresh(emulator, first["refresh_token"])


async def test_an_org_install_rotates_too(emulator: SlackEmulator, rotating: str, org: str,
                                          slack_clock: SlackClock) -> None:
    emulator.app_settings(org_deploy_enabled=True, token_rotation_enabled=True)
    first = await install_org(emulator)
    assert first["access_token"].startswith("xoxe.xoxb-1-") and first["expires_in"] == ACCESS_TOKEN_TTL
    emulator.add_org_to(ENTERPRISE, INITECH)
    slack_clock.advance(ACCESS_TOKEN_TTL)
    general = emulator.workspace_for(INITECH).channel("#general").id
    assert await api_error(client(emulator, first["access_token"]).conversations_join(channel=general)) == \
        "token_expired"
    second = await refresh(emulator, first["refresh_token"])
    assert second["team"] is None and second["is_enterprise_install"] is True
    assert second["enterprise"] == {"id": ENTERPRISE, "name": "Globex Holdings"}
    assert (await client(emulator, second["access_token"]).conversations_join(channel=general))["ok"]


async def test_without_rotation_tokens_never_expire(emulator: SlackEmulator, rotating: str,
                                                    slack_clock: SlackClock) -> None:
    emulator.app_settings(org_deploy_enabled=False, token_rotation_enabled=False)
    code = await code_for(emulator, rotating)
    answer = (await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                        redirect_uri=REDIRECT)).data
    assert isinstance(answer, dict) and "refresh_token" not in answer and answer["access_token"].startswith("xoxb-")
    slack_clock.advance(ACCESS_TOKEN_TTL * 10)
    assert (await client(emulator, answer["access_token"]).auth_test())["ok"]
