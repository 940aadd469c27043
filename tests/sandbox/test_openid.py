"""Sign in with Slack: the authorize page, openid.connect.token, openid.connect.userInfo and the JWKS, over HTTP."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from sandbox.signin import continue_as
from tests.sandbox.conftest import TOKEN, SlackClock
from tests.sandbox.typist import Typist

CLIENT_ID = "1111111111.3333333333"
CLIENT_SECRET = "oidc-client-secret"
BASIC_AUTH_DEPRECATED = "ignore:BasicAuth is deprecated:DeprecationWarning"
pytestmark = pytest.mark.filterwarnings(BASIC_AUTH_DEPRECATED)


class RelyingParty:
    """A tiny web app signing people in with the sandbox's Slack, as the web view does."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator
        self.url = ""
        self.scope = "openid profile email"
        self.nonce = ""
        self.code = ""
        self.token: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/start", self.begin)
        app.router.add_get("/callback", self.callback)
        app.router.add_get("/home", self.home)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def begin(self, request: web.Request) -> web.Response:
        state, self.nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        query = {"response_type": "code", "scope": self.scope, "client_id": CLIENT_ID, "state": state,
                 "nonce": self.nonce, "redirect_uri": self.url + "/callback", **request.query}
        resp = web.HTTPFound(f"{self.emulator.base_url}/openid/connect/authorize?{urlencode(query)}")
        resp.set_cookie("rp_state", state, httponly=True)
        raise resp

    async def callback(self, request: web.Request) -> web.Response:
        if request.query.get("state") != request.cookies.get("rp_state"):
            return web.Response(status=403, text="state mismatch")
        self.code = request.query["code"]
        slack = AsyncWebClient(base_url=self.emulator.api_url)
        token = await slack.openid_connect_token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=self.code,
                                                 redirect_uri=self.url + "/callback")
        assert isinstance(token.data, dict)
        self.token = token.data
        user = AsyncWebClient(token=self.token["access_token"], base_url=self.emulator.api_url)
        info = await user.openid_connect_userInfo()
        assert isinstance(info.data, dict)
        self.info = info.data
        resp = web.HTTPFound("/home")
        resp.set_cookie("rp_session", self.info["sub"], httponly=True)
        raise resp

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.cookies.get('rp_session')}")


@pytest.fixture
async def rp(emulator: SlackEmulator) -> AsyncIterator[RelyingParty]:
    party = RelyingParty(emulator)
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=[await party.start() + "/callback"])
    try:
        yield party
    finally:
        await party.stop()


def authorize_url(emulator: SlackEmulator, rp: RelyingParty, **overrides: str) -> str:
    query = {"response_type": "code", "scope": "openid profile", "client_id": CLIENT_ID, "state": "st-1",
             "nonce": "n-1", "redirect_uri": rp.url + "/callback", **overrides}
    return f"{emulator.base_url}/openid/connect/authorize?{urlencode(query)}"


async def code_for(emulator: SlackEmulator, rp: RelyingParty, user: str = "alice", **overrides: str) -> str:
    """Open the authorize page, press "Continue as <user>", and read the code off the redirect."""
    async with aiohttp.ClientSession() as http:
        async with http.get(authorize_url(emulator, rp, **overrides)) as page:
            form = continue_as(await page.text(), user)
        async with http.post(emulator.base_url + "/openid/connect/authorize", data=form,
                             allow_redirects=False) as sent:
            assert sent.status == 302
            location = sent.headers["Location"]
    assert location.startswith(overrides.get("redirect_uri", rp.url + "/callback") + "?")
    return parse_qs(urlsplit(location).query)["code"][0]


async def call(emulator: SlackEmulator, method: str, data: dict[str, str], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(emulator.api_url + method, data=data,
                                                          headers=headers) as resp:
        return await resp.json()


def exchange(rp: RelyingParty, code: str, **overrides: str) -> dict[str, str]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code,
            "redirect_uri": rp.url + "/callback", "grant_type": "authorization_code", **overrides}


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def verified_claims(emulator: SlackEmulator, id_token: str) -> dict[str, Any]:
    """The id_token's claims after checking its RS256 signature against the sandbox's published JWKS."""
    async with aiohttp.ClientSession() as http:
        async with http.get(emulator.base_url + "/.well-known/openid-configuration") as found:
            config = await found.json()
        assert config["issuer"] == "https://slack.com" and config["jwks_uri"].startswith(emulator.base_url)
        async with http.get(config["jwks_uri"]) as resp:
            keys = (await resp.json())["keys"]
    head, payload, signature = id_token.split(".")
    assert (header := json.loads(b64(head)))["alg"] == "RS256"
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    assert jwk["kty"] == "RSA" and jwk["use"] == "sig"
    public = rsa.RSAPublicNumbers(int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big"))
    public.public_key().verify(b64(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    claims: dict[str, Any] = json.loads(b64(payload))
    return claims


async def test_a_browser_signs_in_through_the_relying_party(emulator: SlackEmulator, rp: RelyingParty) -> None:
    ws = emulator.workspace
    carol = ws.user("carol")
    signed = await emulator.openid_sign_in(rp.url + "/start", user="carol")
    assert (signed.status, signed.text, signed.callback_status) == (200, f"hello {carol.id}", 302)
    assert signed.url == rp.url + "/home" and signed.cookies["rp_session"] == carol.id
    assert set(rp.token) == {"ok", "access_token", "token_type", "id_token"} and rp.token["token_type"] == "Bearer"
    assert rp.token["ok"] is True and rp.token["access_token"].startswith("xoxp-")
    assert rp.info == {
        "ok": True, "sub": carol.id, "https://slack.com/user_id": carol.id, "https://slack.com/team_id": ws.team_id,
        "email": carol.email, "email_verified": True, "date_email_verified": rp.info["date_email_verified"],
        "name": carol.real_name, "picture": rp.info["picture"], "given_name": carol.real_name.partition(" ")[0],
        "family_name": carol.real_name.partition(" ")[2], "locale": "en-US",
        "https://slack.com/team_name": "Sandbox", "https://slack.com/team_domain": "sandbox"}
    claims = await verified_claims(emulator, rp.token["id_token"])
    assert claims["iss"] == "https://slack.com" and claims["aud"] == CLIENT_ID and claims["sub"] == carol.id
    assert claims["nonce"] == rp.nonce and claims["exp"] - claims["iat"] == 300
    assert claims["https://slack.com/user_id"] == carol.id and claims["https://slack.com/team_id"] == ws.team_id
    assert claims["email"] == carol.email and claims["name"] == carol.real_name
    assert claims["auth_time"] <= claims["iat"] and "at_hash" in claims


async def test_a_tampered_id_token_does_not_verify(emulator: SlackEmulator, rp: RelyingParty) -> None:
    await emulator.openid_sign_in(rp.url + "/start", user="bob")
    head, payload, signature = rp.token["id_token"].split(".")
    forged = json.loads(b64(payload)) | {"sub": emulator.workspace.user("alice").id}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        await verified_claims(emulator, f"{head}.{forged_payload}.{signature}")


async def test_a_code_works_once(emulator: SlackEmulator, rp: RelyingParty) -> None:
    await emulator.openid_sign_in(rp.url + "/start", user="dave")
    again = await call(emulator, "openid.connect.token", exchange(rp, rp.code))
    assert again == {"ok": False, "error": "invalid_code"}


async def test_a_code_expires_after_ten_minutes(emulator: SlackEmulator, rp: RelyingParty,
                                                slack_clock: SlackClock) -> None:
    fresh, stale = await code_for(emulator, rp), await code_for(emulator, rp)
    slack_clock.advance(599)
    assert (await call(emulator, "openid.connect.token", exchange(rp, fresh)))["ok"] is True
    slack_clock.advance(2)
    assert await call(emulator, "openid.connect.token", exchange(rp, stale)) == {"ok": False, "error": "invalid_code"}


@pytest.mark.parametrize(("change", "error"), [
    ({"client_secret": "wrong"}, "bad_client_secret"),
    ({"client_id": "9999.9999"}, "invalid_client_id"),
    ({"redirect_uri": "http://127.0.0.1:1/callback"}, "bad_redirect_uri"),
    ({"redirect_uri": ""}, "bad_redirect_uri"),  # given to authorize, so required here
    ({"grant_type": "password"}, "invalid_grant_type"),
])
async def test_token_refuses_bad_exchanges(emulator: SlackEmulator, rp: RelyingParty, change: dict[str, str],
                                           error: str) -> None:
    code = await code_for(emulator, rp)
    assert await call(emulator, "openid.connect.token", exchange(rp, code, **change)) == {"ok": False, "error": error}
    # A refused exchange leaves the code usable (only a successful one spends it).
    assert (await call(emulator, "openid.connect.token", exchange(rp, code)))["ok"] is True


async def test_slack_sdk_gets_the_errors_as_slack_api_errors(emulator: SlackEmulator, rp: RelyingParty) -> None:
    code = await code_for(emulator, rp)
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(base_url=emulator.api_url).openid_connect_token(
            client_id=CLIENT_ID, client_secret="nope", code=code, redirect_uri=rp.url + "/callback")
    assert err.value.response["error"] == "bad_client_secret"


async def test_user_info_takes_only_the_user_token_it_issued(emulator: SlackEmulator, rp: RelyingParty) -> None:
    for token, error in ((TOKEN, "not_allowed_token_type"), ("xoxp-T0-U0-fake", "invalid_auth"), (None, "not_authed")):
        assert await call(emulator, "openid.connect.userInfo", {}, token) == {"ok": False, "error": error}
    issued = await call(emulator, "openid.connect.token", exchange(rp, await code_for(emulator, rp)))
    by_form = await call(emulator, "openid.connect.userInfo", {"token": issued["access_token"]})
    assert by_form["ok"] is True and by_form["sub"] == emulator.workspace.user("alice").id
    assert "email" not in by_form and "email_verified" not in by_form  # no email scope asked for
    # The user token is for Sign in with Slack only: other methods do not take it.
    assert (await call(emulator, "auth.test", {}, issued["access_token"]))["ok"] is False


@pytest.mark.parametrize(("overrides", "error"), [
    ({"client_id": "9999.9999"}, "invalid_client_id"),
    ({"redirect_uri": "https://elsewhere.example.com/callback"}, "bad_redirect_uri"),
    ({"scope": "profile email"}, "invalid_scope"),
    ({"scope": "openid chat:write"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"team": "T0NOWHERE"}, "team_not_found"),
])
async def test_bad_authorize_requests_get_an_error_page_not_a_redirect(emulator: SlackEmulator, rp: RelyingParty,
                                                                       overrides: dict[str, str], error: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(authorize_url(emulator, rp, **overrides),
                                                         allow_redirects=False) as page:
        assert page.status == 400 and f'id="error">{error}<' in await page.text()


async def test_a_redirect_below_the_configured_url_is_accepted(emulator: SlackEmulator, rp: RelyingParty) -> None:
    below = rp.url + "/callback/web"
    code = await code_for(emulator, rp, redirect_uri=below)
    assert (await call(emulator, "openid.connect.token", exchange(rp, code, redirect_uri=below)))["ok"] is True


async def test_login_hint_preselects_but_still_needs_the_click(emulator: SlackEmulator, rp: RelyingParty) -> None:
    ws = emulator.workspace
    ws.user("dave").deleted = True
    async with aiohttp.ClientSession() as http, http.get(authorize_url(emulator, rp, login_hint="erin")) as page:
        text = await page.text()
    order = sorted((u.name for u in ws.users.values() if f"Continue as {u.name}<" in text),
                   key=lambda name: text.index(f"Continue as {name}<"))
    assert order[0] == "erin" and "alice" in order and "dave" not in order and ws.bot_user.name not in order
    assert text.count("autofocus") == 1 and text.count('class="hinted"') == 1
    assert emulator.api.openid.codes == {}  # nothing issued before the person chooses
    signed = await emulator.openid_sign_in(rp.url + "/start?login_hint=erin", user="erin")
    assert signed.cookies["rp_session"] == ws.user("erin").id


async def test_people_who_cannot_sign_in_are_refused(emulator: SlackEmulator, rp: RelyingParty) -> None:
    ws = emulator.workspace
    async with aiohttp.ClientSession() as http:
        async with http.get(authorize_url(emulator, rp)) as page:
            form = continue_as(await page.text(), "alice")
        for user in (ws.bot_user_id, "U0NOBODY"):
            async with http.post(emulator.base_url + "/openid/connect/authorize", data=form | {"user": user},
                                 allow_redirects=False) as sent:
                assert sent.status == 400 and 'id="error">user_not_found<' in await sent.text()


async def test_the_team_parameter_picks_the_workspace(emulator: SlackEmulator, rp: RelyingParty) -> None:
    acme = emulator.add_workspace("T0ACME", name="Acme", domain="acme", installed=False)
    code = await code_for(emulator, rp, team="T0ACME", user="bob")
    issued = await call(emulator, "openid.connect.token", exchange(rp, code))
    info = await call(emulator, "openid.connect.userInfo", {}, issued["access_token"])
    assert (info["https://slack.com/team_id"], info["https://slack.com/team_name"]) == ("T0ACME", "Acme")
    assert info["sub"] == acme.user("bob").id


async def test_the_repl_prints_a_sign_in_link_per_person(emulator: SlackEmulator, driver: SlackDriver) -> None:
    bot = "http://127.0.0.1:8123"
    emulator.configure_oauth(CLIENT_ID, CLIENT_SECRET, redirect_uris=[bot + "/slack/oauth_redirect",
                                                                       bot + "/web/auth/callback"])
    emulator.workspace.user("dave").deleted = True
    typist = Typist(emulator, driver)
    try:
        answer = await typist.type("web")
    finally:
        await typist.close()
    assert f"Web view: {bot}/web/" in typist.text.split("web\n")[0]  # printed when the session starts, too
    links = [line.split()[-1] for line in answer.splitlines()[1:]]
    assert links == [f"{bot}/web/auth/start?login_hint={name}" for name in ("alice", "bob", "carol", "erin")]
