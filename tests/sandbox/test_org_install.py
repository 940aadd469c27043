"""Org-wide installs on Enterprise Grid: one token for the organization, acting only in the workspaces an admin added
it to, with `team_id` where Slack needs one, and every request from those workspaces flagged as an org install."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator, SlackError
from tests.sandbox.fakeapp import FakeApp
from tests.sandbox.test_interactions import BUTTONS, MODAL
from tests.sandbox.test_oauth import BASIC_AUTH_DEPRECATED, CLIENT_ID, CLIENT_SECRET, REDIRECT, anonymous
from tests.sandbox.test_web_api import api_error

pytestmark = pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)
ENTERPRISE, ORG_NAME = "E0GLOBEX", "Globex Holdings"
INITECH, UMBRELLA = "T0INITECH", "T0UMBRELLA"
SCOPES = "commands,chat:write,channels:read,channels:manage,channels:join,groups:read,users:read"


@pytest.fixture
def org(emulator: SlackEmulator) -> str:
    """Two workspaces of one Grid organization, the app in neither; the app may be installed org-wide."""
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=["https://retro.example.com/slack"])
    emulator.app_settings(org_deploy_enabled=True, token_rotation_enabled=False)
    for team, name in ((INITECH, "Initech"), (UMBRELLA, "Umbrella")):
        emulator.tenancy.add(team, name=name, domain=name.lower(), installed=False,
                             enterprise=(ENTERPRISE, ORG_NAME))
    return ENTERPRISE


def authorize_url(emulator: SlackEmulator) -> str:
    return (f"{emulator.authorize_url}?state=st-1&client_id={CLIENT_ID}&scope={SCOPES}&user_scope="
            f"&redirect_uri={REDIRECT}")


async def install_org(emulator: SlackEmulator, *, user: str = "alice") -> dict[str, Any]:
    """An org admin installs the app for the whole organization; returns oauth.v2.access's answer."""
    redirect = await emulator.oauth_authorize(authorize_url(emulator), user=user, team_id=ENTERPRISE)
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    resp = await anonymous(emulator).oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                                                     redirect_uri=REDIRECT)
    return dict(resp.data)  # type: ignore[arg-type]


async def test_an_org_install_answers_for_the_organization(emulator: SlackEmulator, org: str) -> None:
    answer = await install_org(emulator)
    token = answer["access_token"]
    assert answer["team"] is None and answer["enterprise"] == {"id": ENTERPRISE, "name": ORG_NAME}
    assert answer["is_enterprise_install"] is True and answer["token_type"] == "bot"
    assert answer["bot_user_id"].startswith("W") and "expires_in" not in answer  # rotation off: no expiry
    auth = await AsyncWebClient(token=token, base_url=emulator.api_url).auth_test()
    assert (auth["team_id"], auth["enterprise_id"], auth["is_enterprise_install"]) == (ENTERPRISE, ENTERPRISE, True)
    assert auth["user_id"] == answer["bot_user_id"] and auth["url"] == "https://e0globex.enterprise.slack.com/"
    # Installed for the org, the app is in no workspace until an admin adds it.
    assert not emulator.workspace_for(INITECH).installed
    with pytest.raises(KeyError):
        emulator.bot_token_for(INITECH)


async def test_the_org_token_needs_team_id_and_acts_only_where_added(emulator: SlackEmulator, org: str) -> None:
    token = (await install_org(emulator))["access_token"]
    client = AsyncWebClient(token=token, base_url=emulator.api_url)
    assert await api_error(client.conversations_list(team_id=INITECH)) == "team_access_not_granted"
    emulator.add_org_to(ENTERPRISE, INITECH)
    initech = emulator.workspace_for(INITECH)
    assert initech.installed and initech.bot_user_id == (await client.auth_test())["user_id"]
    assert emulator.bot_token_for(INITECH) == token
    for call in (client.conversations_list(), client.users_list(), client.users_conversations(),
                 client.conversations_create(name="inc-org")):
        assert await api_error(call) == "missing_argument"
    assert await api_error(client.conversations_list(team_id=UMBRELLA)) == "team_access_not_granted"
    listed = await client.conversations_list(team_id=INITECH)
    assert [c["name"] for c in listed["channels"]] == ["general"]
    members = await client.users_list(team_id=INITECH)
    assert {m["name"] for m in members["members"]} >= {"alice", "bob"}
    created = (await client.conversations_create(name="inc-org", team_id=INITECH))["channel"]
    assert created["id"] in initech.channels
    # A channel, a user or a trigger names its workspace: no team_id needed.
    posted = await client.chat_postMessage(channel=created["id"], text="hello org")
    assert initech.messages[created["id"]][posted["ts"]].user == initech.bot_user_id
    assert (await client.users_info(user=initech.user("bob").id))["user"]["name"] == "bob"
    dm = await client.chat_postMessage(channel=initech.user("bob").id, text="a DM")
    assert dm["channel"].startswith("D")
    umbrella = emulator.workspace_for(UMBRELLA)
    assert await api_error(client.chat_postMessage(channel=umbrella.channel("#general").id,
                                                   text="not here")) == "channel_not_found"


async def test_only_an_org_ready_app_and_an_admin_install_org_wide(emulator: SlackEmulator, org: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(authorize_url(emulator)) as page:
        assert f'value="{ENTERPRISE}"' in await page.text()
    with pytest.raises(SlackError, match="not_authorized"):
        await emulator.oauth_authorize(authorize_url(emulator), user="carol", team_id=ENTERPRISE)  # a member
    emulator.app_settings(org_deploy_enabled=False, token_rotation_enabled=False)
    async with aiohttp.ClientSession() as http, http.get(authorize_url(emulator)) as page:
        assert f'value="{ENTERPRISE}"' not in await page.text()
    with pytest.raises(SlackError, match="org_deploy_not_enabled"):
        await emulator.oauth_authorize(authorize_url(emulator), user="alice", team_id=ENTERPRISE)


async def test_requests_from_an_org_install_say_so(emulator: SlackEmulator, app: FakeApp, org: str) -> None:
    token = (await install_org(emulator))["access_token"]
    emulator.add_org_to(ENTERPRISE, INITECH)
    drv = SlackDriver(emulator, team_id=INITECH)
    client = AsyncWebClient(token=token, base_url=emulator.api_url)
    general = drv.channel("#general").id
    await client.conversations_join(channel=general)
    await drv.post("alice", "#general", "hello org")
    result = await drv.command("alice", "#general", "help")
    ts = (await client.chat_postMessage(channel=general, text="Incident", blocks=BUTTONS))["ts"]
    await drv.click("alice", channel="#general", message_ts=ts, action_id="ack")
    opened = await client.views_open(trigger_id=result.trigger_id, view=MODAL)
    await drv.submit_view("alice", opened["view"]["id"], {"title": "Drift", "commander": "alice"})
    await emulator.drain()
    envelope = next(r.json for r in app.requests if r.headers["Content-Type"].startswith("application/json")
                    and r.json.get("type") == "event_callback" and r.json["event"].get("user") == drv.user("alice").id)
    assert (envelope["team_id"], envelope["enterprise_id"]) == (INITECH, ENTERPRISE)
    assert envelope["authorizations"] == [{"enterprise_id": ENTERPRISE, "team_id": INITECH, "is_bot": True,
                                           "user_id": emulator.workspace_for(INITECH).bot_user_id,
                                           "is_enterprise_install": True}]
    form = next(f for f in app.forms() if "command" in f)
    assert (form["team_id"], form["enterprise_id"], form["is_enterprise_install"]) == (INITECH, ENTERPRISE, "true")
    click = app.interactions("block_actions")[0]
    assert click["is_enterprise_install"] is True and click["team"]["id"] == INITECH
    submitted = app.interactions("view_submission")[0]
    # Bolt reads the workspace from user.team_id when an org install's view payload has no team.
    assert submitted["team"] is None and submitted["is_enterprise_install"] is True
    assert submitted["user"]["team_id"] == INITECH and submitted["enterprise"]["id"] == ENTERPRISE


async def test_uninstalling_an_org_install_tells_the_app_for_the_organization(emulator: SlackEmulator, app: FakeApp,
                                                                               org: str) -> None:
    token = (await install_org(emulator))["access_token"]
    emulator.add_org_to(ENTERPRISE, INITECH)
    sent = await emulator.uninstall_org(ENTERPRISE)
    assert [d.type for d in sent] == ["app_uninstalled", "tokens_revoked"]
    for delivery in sent:
        payload = delivery.payload
        assert payload["team_id"] is None and payload["enterprise_id"] == ENTERPRISE
        assert payload["authorizations"][0]["is_enterprise_install"] is True
    assert sent[1].payload["event"]["tokens"]["bot"] == [emulator.tenancy.orgs[ENTERPRISE].home.bot_user_id]
    assert await api_error(AsyncWebClient(token=token, base_url=emulator.api_url).auth_test()) == "token_revoked"
    assert not emulator.workspace_for(INITECH).installed
