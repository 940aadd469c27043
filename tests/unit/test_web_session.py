"""The web view's signed cookies and where a sign-in may lead: forged, altered, expired and foreign values refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.app.web import session
from bot.app.web.auth import safe_next
from bot.config import Settings

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def _session(hours: float = 1) -> str:
    me = session.Session("U0ALICE", "T0001", "Alice", NOW + timedelta(hours=hours))
    return session.seal(KEY, "session", me.claims(NOW))


def test_a_sealed_session_reads_back_until_it_expires() -> None:
    value = _session()
    me = session.Session.of(session.unseal(KEY, "session", value, NOW))
    assert me is not None and (me.user_id, me.team_id, me.name) == ("U0ALICE", "T0001", "Alice")
    assert session.unseal(KEY, "session", value, NOW + timedelta(hours=1, seconds=1)) is None


@pytest.mark.parametrize("change", ["other key", "other purpose", "altered body", "altered mac", "garbage", "none",
                                    "too long"])
def test_anything_but_our_own_unexpired_value_is_no_session(change: str) -> None:
    value = _session()
    body, mac = value.split(".")
    forged = {"other key": lambda: session.seal(b"x" * 32, "session", {"u": "U0ALICE", "t": "T0001",
                                                                         "exp": NOW.timestamp() + 60}),
              "altered body": lambda: session.seal(KEY, "x", {})[:-1] + "." + mac,
              "altered mac": lambda: f"{body}.{mac[:-2]}AA",
              "garbage": lambda: "not.a-cookie", "none": lambda: None, "too long": lambda: "a" * 5000 + "." + mac,
              "other purpose": lambda: value}[change]()
    purpose = "signin" if change == "other purpose" else "session"
    assert session.unseal(KEY, purpose, forged, NOW) is None


def test_a_session_needs_a_user_and_a_workspace() -> None:
    assert session.Session.of({"u": "U1", "exp": 1}) is None
    assert session.Session.of({"u": "", "t": "T1", "exp": 1}) is None
    assert session.Session.of(None) is None


def test_the_key_comes_from_the_setting_else_the_client_secret() -> None:
    assert session.session_key(Settings()) is None
    web = Settings(retro_web_client_id="1.2", retro_web_client_secret=SecretStr("s3cret"))
    explicit = Settings(retro_web_client_id="1.2", retro_web_client_secret=SecretStr("s3cret"),
                        retro_web_session_key=SecretStr("another"))
    assert session.session_key(web) not in (None, session.session_key(explicit))
    assert session.session_key(web) == session.session_key(Settings(retro_web_client_id="9.9",
                                                                    retro_web_client_secret=SecretStr("s3cret")))


def test_cookies_are_secure_except_on_plain_http_loopback() -> None:
    assert session.secure_cookies(Settings(retro_public_url="https://retro.example.com"))
    assert session.secure_cookies(Settings(retro_public_url="http://retro.example.com"))
    assert session.secure_cookies(Settings())
    assert not session.secure_cookies(Settings(retro_public_url="http://127.0.0.1:3000"))
    assert not session.secure_cookies(Settings(retro_public_url="http://localhost:3000"))


@pytest.mark.parametrize(("asked", "lands"), [
    ("/web/incidents/4", "/web/incidents/4"), ("/web/?status=open", "/web/?status=open"),
    ("https://evil.example/web/", "/web/"), ("//evil.example/web/", "/web/"), ("/webx", "/web/"),
    ("/web/\\evil", "/web/"), ("/web/\u202e", "/web/"), (None, "/web/"), ("/slack/events", "/web/")])
def test_a_sign_in_only_ever_leads_to_a_page_of_the_web_view(asked: str | None, lands: str) -> None:
    assert safe_next(asked) == lands
