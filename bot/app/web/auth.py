"""Signing in with Slack, and out: /web/signin, /web/auth/start, /web/auth/callback, /web/signout."""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from aiohttp import web

from bot.app.web import session
from bot.app.web.pages import BOLT, DEPS, render, workspace_installed
from bot.slack.people import refusal
from bot.slack.signin import SignInError, authorize_url, exchange

log = logging.getLogger("retro.web")
CALLBACK = f"{session.PATH}/auth/callback"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the web view only (never another site)."""
    if not value or not value.startswith(session.PATH + "/") or value.startswith("//") or "\\" in value:
        return session.PATH + "/"
    return value if all(32 < ord(c) < 127 for c in value) else session.PATH + "/"


def redirect_uri(request: web.Request) -> str:
    """The callback's external address: RETRO_PUBLIC_URL's, else this request's own host."""
    public = request.app[DEPS].settings.retro_public_url
    return f"{public}{CALLBACK}" if public else str(request.url.with_path(CALLBACK).with_query(None))


def _cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str, *, path: str,
            max_age: int) -> None:
    resp.set_cookie(name, value, path=path, max_age=max_age, httponly=True, samesite="Lax",
                    secure=session.secure_cookies(request.app[DEPS].settings))


async def signin_page(request: web.Request) -> web.StreamResponse:
    """The only page a signed-out person sees: what Retro is, and the button."""
    configured = request.app[DEPS].settings.web_client is not None
    return render(request, "signin.html.j2", next=safe_next(request.query.get("next")), configured=configured,
                  error=None, me=None)


async def start(request: web.Request) -> web.StreamResponse:
    """Remember this sign-in (state, nonce, the page asked for) in a signed cookie, and go to Slack."""
    deps = request.app[DEPS]
    client, key = deps.settings.web_client, session.session_key(deps.settings)
    if client is None or key is None:
        raise web.HTTPFound(f"{session.PATH}/signin")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    ttl = session.STATE_TTL
    sealed = session.seal(key, "signin", {"s": state, "n": nonce, "next": safe_next(request.query.get("next")),
                                         "exp": int((deps.now() + ttl).timestamp())})
    hint = request.query.get("login_hint")
    target = authorize_url(deps.settings.slack_api_url, client_id=client[0], redirect_uri=redirect_uri(request),
                           state=state, nonce=nonce, login_hint=hint[:80] if hint else None)
    resp = web.HTTPFound(target)
    _cookie(resp, request, session.STATE_COOKIE, sealed, path=f"{session.PATH}/auth",
            max_age=int(ttl.total_seconds()))
    raise resp


def _refused(request: web.Request, why: str) -> web.Response:
    return render(request, "signin.html.j2", status=403, next=session.PATH + "/", configured=True, error=why, me=None)


async def callback(request: web.Request) -> web.StreamResponse:
    """Slack sent the person back: the state must be this browser's, the code good, the workspace installed."""
    deps = request.app[DEPS]
    client, key = deps.settings.web_client, session.session_key(deps.settings)
    if client is None or key is None:
        raise web.HTTPFound(f"{session.PATH}/signin")
    pending = session.unseal(key, "signin", request.cookies.get(session.STATE_COOKIE), deps.now())
    state = request.query.get("state", "")
    if pending is None or not hmac.compare_digest(str(pending.get("s", "")), state):
        return _refused(request, "This sign-in was not started here, or took too long. Sign in again.")
    if "error" in request.query or not request.query.get("code"):
        return _refused(request, "Slack did not sign you in (the request was declined). Sign in again.")
    try:
        person = await exchange(deps.settings.slack_api_url, client_id=client[0], client_secret=client[1],
                                code=request.query["code"], redirect_uri=redirect_uri(request),
                                nonce=str(pending.get("n", "")), now=deps.now())
    except SignInError as exc:
        log.info("web sign-in refused: %s", exc)
        return _refused(request, str(exc))
    if not await workspace_installed(deps, person.team_id):
        return _refused(request, "Retro is not installed in that workspace: only people of the workspaces it "
                                 "serves can sign in.")
    if (why := await refusal(request.app[BOLT].client, deps, person.team_id, person.user_id)) is not None:
        return _refused(request, why)
    expires = deps.now() + timedelta(hours=deps.settings.retro_web_session_hours)
    me = session.Session(person.user_id, person.team_id, person.name[:80], expires)
    resp = web.HTTPFound(safe_next(str(pending.get("next", ""))))
    _cookie(resp, request, session.COOKIE, session.seal(key, "session", me.claims(deps.now())), path=session.PATH,
            max_age=int(deps.settings.retro_web_session_hours * 3600))
    resp.del_cookie(session.STATE_COOKIE, path=f"{session.PATH}/auth")
    log.info("web sign-in", extra={"user": person.user_id, "team": person.team_id})
    raise resp


async def signout(request: web.Request) -> web.StreamResponse:
    """Forget the session: a POST from the page's own form. Another site's form is refused: by the browser's
    Sec-Fetch-Site, else by its Origin (with `Referrer-Policy: no-referrer`, Chromium sends `Origin: null` even for
    the page's own form, and says `Sec-Fetch-Site: same-origin`)."""
    site, origin = request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin")
    own = (f"{request.scheme}://{request.host}", request.app[DEPS].settings.retro_public_url or "")
    if not (site in ("same-origin", "none") if site is not None else origin is None or origin in own):
        raise web.HTTPForbidden(text="Sign out from Retro's own page.")
    resp = web.HTTPFound(f"{session.PATH}/signin")
    resp.del_cookie(session.COOKIE, path=session.PATH)
    raise resp


def routes() -> list[web.RouteDef]:
    """The sign-in routes."""
    return [web.get(f"{session.PATH}/signin", signin_page), web.get(f"{session.PATH}/auth/start", start),
            web.get(CALLBACK, callback), web.post(f"{session.PATH}/signout", signout)]
