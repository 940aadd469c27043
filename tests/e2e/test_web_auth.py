"""Signing in to the web view with Slack (the sandbox's OpenID Connect), and everything a signed-out or forged visitor
gets instead: a redirect to sign in, no titles, no session."""

from __future__ import annotations

import aiohttp
from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from bot.app.web import session
from storage.models import Workspace
from tests.e2e.helpers import declare
from tests.e2e.web_client import cookie, get

SECRET_TITLE = "Churn model scores inverted"
ROUTES = ("/web/", "/web/stats", "/web/patterns", "/web/incidents/{id}", "/web/incidents/{id}/bundle.zip",
          "/web/incidents/{id}/incident.ipynb", "/web/incidents/{id}/timeline.svg")


async def fetch(stack: LocalStack, path: str, value: str | None = None) -> tuple[int, str, dict[str, str]]:
    """One GET with this cookie value (or none), redirects not followed: status, body, headers."""
    answer = await get(stack, path, value=value)
    return answer.status, answer.text, answer.headers


async def test_signing_in_with_slack_gives_a_session_for_the_page_asked(stack: LocalStack) -> None:
    incident, _ = await declare(stack, SECRET_TITLE)
    done = await stack.emulator.openid_sign_in(
        f"{stack.base_url}/web/auth/start?next=%2Fweb%2Fstats&login_hint=bob", user="bob")
    assert done.callback_status == 302 and done.url.endswith("/web/stats")
    assert session.COOKIE in done.cookies
    status, _, _ = await fetch(stack, f"/web/incidents/{incident.id}", done.cookies[session.COOKIE])
    assert status == 200  # the session opens the pages


async def test_signed_out_forged_and_expired_visitors_are_sent_to_sign_in_and_see_no_titles(
        stack: LocalStack) -> None:
    incident, _ = await declare(stack, SECRET_TITLE)
    forged = cookie(stack, "alice", key=b"not-the-key" * 3)
    expired = cookie(stack, "alice", hours=-1)
    tampered = cookie(stack, "alice").replace(".", "x.", 1)
    for route in ROUTES:
        path = route.format(id=incident.id)
        for value in (None, forged, expired, tampered):
            status, body, headers = await fetch(stack, path, value)
            assert status == 302, (path, status)
            assert headers["Location"].startswith("/web/signin?next="), headers["Location"]
            assert SECRET_TITLE not in body
    status, body, headers = await fetch(stack, "/web/signin")
    assert status == 200 and "Sign in with Slack" in body and SECRET_TITLE not in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"


async def test_a_callback_this_browser_did_not_start_is_refused(stack: LocalStack) -> None:
    status, body, _ = await fetch(stack, "/web/auth/callback?code=123.456.abc&state=made-up")
    assert status == 403 and "was not started here" in body
    start, _, headers = await fetch(stack, "/web/auth/start?next=https%3A%2F%2Fevil.example%2F")
    assert start == 302 and "/openid/connect/authorize?" in headers["Location"]
    assert "state=" in headers["Location"] and "nonce=" in headers["Location"]
    cookie = headers["Set-Cookie"]
    assert session.STATE_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_the_session_cookie_is_http_only_and_scoped_and_sign_out_ends_it(stack: LocalStack) -> None:
    done = await stack.emulator.openid_sign_in(f"{stack.base_url}/web/auth/start", user="alice")
    assert done.url.endswith("/web/")
    cookie = done.cookies[session.COOKIE]
    async with aiohttp.ClientSession(cookies={session.COOKIE: cookie}) as http:
        for foreign in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Origin": "null", "Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            async with http.post(stack.base_url + "/web/signout", allow_redirects=False, headers=foreign) as resp:
                assert resp.status == 403, foreign  # another site's form
        async with http.post(stack.base_url + "/web/signout", allow_redirects=False,
                             headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}) as resp:
            assert resp.status == 302  # the page's own form, as Chromium sends it under no-referrer
        async with http.post(stack.base_url + "/web/signout", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/web/signin"
            gone = resp.headers["Set-Cookie"]
            assert session.COOKIE in gone and "Path=/web" in gone and ("Max-Age=0" in gone or "expires=" in gone)


async def test_people_of_a_workspace_retro_no_longer_serves_cannot_sign_in_or_stay(stack: LocalStack) -> None:
    kept = cookie(stack, "alice")
    async with stack.deps.session() as s:
        row = (await s.exec(select(Workspace))).one()
        row.uninstalled_at = stack.deps.now()
        s.add(row)
        await s.commit()
    done = await stack.emulator.openid_sign_in(f"{stack.base_url}/web/auth/start?login_hint=alice", user="alice")
    assert done.status == 403 and "not installed in that workspace" in done.text
    assert session.COOKIE not in done.cookies
    status, _, headers = await fetch(stack, "/web/", kept)  # a session from before the uninstall ends with it
    assert status == 302 and headers["Location"].startswith("/web/signin")


async def test_without_the_web_view_there_is_no_web_route(database_url: str) -> None:
    async with local_stack(database_url=database_url, env={"retro_web": False}) as stack:
        for path in ("/web/", "/web/signin", "/web/auth/start"):
            status, _, _ = await fetch(stack, path)
            assert status == 404


async def test_guests_and_deactivated_accounts_cannot_sign_in(stack: LocalStack) -> None:
    ws = stack.emulator.workspace_for(stack.driver.team_id)
    ws.add_user("gus", role="guest")
    ws.add_user("sam", role="single_channel_guest")
    for name in ("gus", "sam"):
        done = await stack.emulator.openid_sign_in(f"{stack.base_url}/web/auth/start?login_hint={name}", user=name)
        assert done.status == 403 and "Guests of the workspace cannot use Retro" in done.text
        assert session.COOKIE not in done.cookies


async def test_an_id_no_database_can_hold_is_simply_not_found(stack: LocalStack) -> None:
    for raw in ("2147483648", "99999999999999999999", "-1", "１２"):
        status, _, headers = await fetch(stack, f"/web/incidents/{raw}", cookie(stack, "alice"))
        assert status == 404, raw
        assert headers["Referrer-Policy"] == "no-referrer"
