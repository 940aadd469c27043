"""OAuth v2: the authorize step, oauth.v2.access and uninstalling, through the real slack_sdk client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackEmulator, SlackError
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_web_api import api_error

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "oauth-client-secret"
REDIRECT = "https://retro.example.com/slack/oauth_redirect"
# slack_sdk sends client credentials with aiohttp's BasicAuth, which aiohttp now deprecates.
BASIC_AUTH_DEPRECATED = "ignore:BasicAuth is deprecated:DeprecationWarning"
pytestmark = pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)


@pytest.fixture
def acme(emulator: SlackEmulator) -> str:
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    return "T0ACME"


def authorize_url(emulator: SlackEmulator, **overrides: str) -> str:
    params = {"state": "st-1", "client_id": CLIENT_ID, "scope": "chat:write,commands", "user_scope": "",
              "redirect_uri": REDIRECT, **overrides}
    return emulator.authorize_url + "?" + "&".join(f"{k}={v}" for k, v in params.items())


async def code_for(emulator: SlackEmulator, team_id: str, **overrides: str) -> str:
    redirect = await emulator.oauth_authorize(authorize_url(emulator, **overrides), user="carol", team_id=team_id)
    return parse_qs(urlsplit(redirect).query)["code"][0]


def anonymous(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(base_url=emulator.api_url)


async def test_authorize_then_access_installs_the_bot(emulator: SlackEmulator, acme: str) -> None:
    redirect = await emulator.oauth_authorize(authorize_url(emulator), user="carol", team_id=acme)
    assert redirect.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(redirect).query)
    assert query["state"] == ["st-1"]
    ws = emulator.workspace_for(acme)
    assert not ws.installed and ws.bot_user_id not in ws.users
    resp = await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                                     code=query["code"][0], redirect_uri=REDIRECT)
    token = resp["access_token"]
    assert token.startswith("xoxb-T0ACME-")
    assert resp.data == {"ok": True, "app_id": "A0SANDBOX", "authed_user": {"id": ws.user("carol").id},
                         "scope": "chat:write,commands", "token_type": "bot", "access_token": token,
                         "bot_user_id": ws.bot_user_id, "team": {"id": "T0ACME", "name": "Acme"},
                         "enterprise": None, "is_enterprise_install": False}
    assert ws.installed and ws.bot_user.is_bot and emulator.bot_token_for(acme) == token
    auth = await AsyncWebClient(token=token, base_url=emulator.api_url).auth_test()
    assert auth["team_id"] == "T0ACME" and auth["user_id"] == ws.bot_user_id


async def test_credentials_in_the_form_body_work_too(emulator: SlackEmulator, acme: str) -> None:
    code = await code_for(emulator, acme, redirect_uri="")
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code}
    async with aiohttp.ClientSession() as http, http.post(emulator.api_url + "oauth.v2.access", data=form) as r:
        body = await r.json()
    assert body["ok"] is True and body["team"]["id"] == "T0ACME"


@pytest.mark.parametrize(("change", "error"), [
    ({"client_id": "9999.9999"}, "invalid_client_id"),
    ({"client_secret": "wrong"}, "bad_client_secret"),
    ({"code": "123.456.nope"}, "invalid_code"),
    ({"redirect_uri": "https://retro.example.com/slack/other"}, "bad_redirect_uri"),
    ({"redirect_uri": None}, "bad_redirect_uri"),
])
async def test_access_errors(emulator: SlackEmulator, acme: str, change: dict[str, Any], error: str) -> None:
    args: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                            "code": await code_for(emulator, acme), "redirect_uri": REDIRECT, **change}
    assert await api_error(anonymous(emulator).oauth_v2_access(**args)) == error
    assert emulator.calls_for("oauth.v2.access")[-1].error == error
    with pytest.raises(KeyError):
        emulator.bot_token_for(acme)


async def test_a_code_works_once(emulator: SlackEmulator, acme: str) -> None:
    code = await code_for(emulator, acme)
    args = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT}
    await anonymous(emulator).oauth_v2_access(**args)
    assert await api_error(anonymous(emulator).oauth_v2_access(**args)) == "invalid_code"


@pytest.mark.parametrize(("change", "error"), [
    ({"client_id": "9999.9999"}, "invalid_client_id"),
    ({"redirect_uri": "https://evil.example.com/slack/oauth_redirect"}, "bad_redirect_uri"),
    ({"scope": "", "user_scope": ""}, "invalid_scope"),
])
async def test_authorize_errors(emulator: SlackEmulator, acme: str, change: dict[str, str], error: str) -> None:
    with pytest.raises(SlackError, match=error):
        await emulator.oauth_authorize(authorize_url(emulator, **change), team_id=acme)


async def test_cancel_and_the_allow_page(emulator: SlackEmulator, acme: str) -> None:
    redirect = await emulator.oauth_authorize(authorize_url(emulator), team_id=acme, allow=False)
    assert parse_qs(urlsplit(redirect).query) == {"error": ["access_denied"], "state": ["st-1"]}
    async with aiohttp.ClientSession() as http, http.get(authorize_url(emulator, team=acme)) as r:
        page = await r.text()
    assert r.status == 200 and "<li>chat:write</li>" in page and 'value="T0ACME" selected' in page
    preselected = await emulator.oauth_authorize(authorize_url(emulator, team=acme), user="dave")
    code = emulator.oauth.codes[parse_qs(urlsplit(preselected).query)["code"][0]]
    assert (code.team_id, code.user_id) == (acme, emulator.workspace_for(acme).user("dave").id)
    with pytest.raises(ValueError, match="authorize URL"):
        await emulator.oauth_authorize("https://slack.com/oauth/v2/authorize?client_id=x", team_id=acme)


async def test_uninstall_revokes_tokens_and_tells_the_app(emulator: SlackEmulator, app: FakeApp,
                                                          client: AsyncWebClient) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme", domain="acme")
    token = emulator.bot_token_for("T0ACME")
    sent = await emulator.uninstall("T0ACME")
    assert [d.type for d in sent] == ["app_uninstalled", "tokens_revoked"] and all(d.delivered for d in sent)
    received = [r.json for r in app.requests]
    assert [p["event"] for p in received] == [
        {"type": "app_uninstalled"}, {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [acme.bot_user_id]}}]
    assert {p["team_id"] for p in received} == {"T0ACME"} and all(r.signature_ok for r in app.requests)
    assert await api_error(AsyncWebClient(token=token, base_url=emulator.api_url).auth_test()) == "token_revoked"
    assert (await client.auth_test())["team_id"] == "T0SANDBOX"
    assert acme.bot_user.deleted and not acme.installed
    with pytest.raises(ValueError, match="not installed"):
        await emulator.uninstall("T0ACME")
