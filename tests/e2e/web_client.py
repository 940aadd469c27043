"""Signed-in HTTP for the web view's scenarios: a session cookie made with the stack's own key, as the sign-in
callback would set it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.app.local import LocalStack
from bot.app.web import session
from storage.models import Incident


def cookie(stack: LocalStack, user: str, *, hours: float = 1, key: bytes | None = None) -> str:
    """The `retro_session` value for a sandbox user (by name), valid for `hours` (negative: already expired); with
    another `key`, a forgery."""
    real = session.session_key(stack.settings)
    assert real is not None, "the local stack has no web client id/secret"
    now = stack.deps.now()
    me = session.Session(stack.driver.user(user).id, stack.driver.team_id, user.capitalize(),
                         now + timedelta(hours=hours))
    return session.seal(key or real, "session", me.claims(now))


@dataclass(frozen=True)
class Answer:
    """What the bot answered."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")


async def get(stack: LocalStack, path: str, user: str | None = None, *, value: str | None = None,
              query: dict[str, str] | None = None) -> Answer:
    """GET a path of the bot over HTTP, signed in as `user` (or with this cookie `value`; neither: signed out),
    redirects not followed."""
    value = cookie(stack, user) if user else value
    headers = {"Cookie": f"{session.COOKIE}={value}"} if value else {}
    async with aiohttp.ClientSession() as http, http.get(f"{stack.base_url}{path}", headers=headers, params=query,
                                                         allow_redirects=False) as resp:
        return Answer(resp.status, dict(resp.headers), await resp.read())


def page_of(incident: Incident, tail: str = "") -> str:
    """The path of an incident's page (or of one of its files)."""
    return f"/web/incidents/{incident.id}{tail}"
