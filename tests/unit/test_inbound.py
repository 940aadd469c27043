"""The checks every Slack request passes before Bolt: signature over the raw bytes, then the body's shape; and
where answers may go."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.slack.inbound import Refused, check_shape, reply_url_allowed, verify
from tests.signing import signed_headers

SECRET = "s3cret"


def headers(body: bytes, **kw: int) -> tuple[str, str]:
    h = signed_headers(SECRET, body, **kw)
    return h["X-Slack-Request-Timestamp"], h["X-Slack-Signature"]


def test_a_good_signature_passes_and_every_bad_one_is_401() -> None:
    body = b'{"type": "event_callback"}'
    verify(SECRET, body, *headers(body))
    stale = headers(body, timestamp=int(time.time()) - 301)
    for secret, raw, ts, sig in [("", body, *headers(body)), ("other", body, *headers(body)),
                                 (SECRET, body + b" ", *headers(body)), (SECRET, body, *stale),
                                 (SECRET, body, None, None), (SECRET, body, "not-a-number", "v0=00"),
                                 (SECRET, body, headers(body)[0], "v0=caf\u00e9"),
                                 (SECRET, body, "\u0661\u0662", headers(body)[1])]:
        with pytest.raises(Refused) as refused:
            verify(secret, raw, ts, sig)
        assert refused.value.status == 401


@pytest.mark.parametrize("body,ctype", [(b"payload=%7Bbad", "application/x-www-form-urlencoded"),
                                        (b"[1,2]", "application/json"), (b"{bad", "application/json"),
                                        (b"\xff", "application/json"), (b"{}", "text/html"),
                                        (b"payload=1&payload=2", "application/x-www-form-urlencoded")])
def test_shapes_slack_never_sends_are_400(body: bytes, ctype: str) -> None:
    with pytest.raises(Refused) as refused:
        check_shape(body, ctype)
    assert refused.value.status == 400


def test_shapes_slack_sends_pass() -> None:
    check_shape(b'{"type": "url_verification"}', "application/json; charset=utf-8")
    check_shape(b"command=%2Fretro&text=help", "application/x-www-form-urlencoded")
    check_shape(b"payload=%7B%22type%22%3A%22block_actions%22%7D", "application/x-www-form-urlencoded")
    check_shape(b"", "application/x-www-form-urlencoded")


@pytest.mark.parametrize("url,api,allowed", [
    ("https://hooks.slack.com/commands/T1/2/x", "https://slack.com/api/", True),
    ("http://hooks.slack.com/commands/T1/2/x", "https://slack.com/api/", False),
    ("https://hooks.slack.com:8443/x", "https://slack.com/api/", False),
    ("https://user:pw@hooks.slack.com/x", "https://slack.com/api/", False),
    ("https://hooks.slack.com.evil.example/x", "https://slack.com/api/", False),
    ("https://evil.example/x", "https://slack.com/api/", False),
    ("https://hooks.slack-gov.com/commands/x", "https://slack-gov.com/api/", True),
    ("https://hooks.slack-gov.com/commands/x", "https://slack.com/api/", False),
    ("http://127.0.0.1:5000/response/T1/h", "http://127.0.0.1:5000/api/", True),
    ("http://127.0.0.1:5001/response/T1/h", "http://127.0.0.1:5000/api/", False),
    ("http://[::1", "https://slack.com/api/", False),
])
def test_answers_go_only_to_slacks_hosts(url: str, api: str, allowed: bool) -> None:
    assert reply_url_allowed(url, api) is allowed


@pytest.mark.parametrize("url,allowed", [
    ("http://127.0.0.1:7001/hook/1", True),
    ("http://127.0.0.1:7002/hook/1", False),  # another port
    ("https://127.0.0.1:7001/hook/1", False),  # another scheme
    ("https://replies.example.com/x", True),  # a bare host means https on 443
    ("https://replies.example.com:8443/x", False),
    ("https://user:pw@replies.example.com/x", False),
])
def test_reply_hosts_add_exactly_the_origins_they_name(url: str, allowed: bool) -> None:
    settings = Settings.model_validate({"retro_reply_hosts": "http://127.0.0.1:7001, replies.example.com"})
    assert reply_url_allowed(url, "https://slack.com/api/", settings.reply_hosts) is allowed
    assert reply_url_allowed(url, "https://slack.com/api/") is False


def test_reply_hosts_must_be_origins() -> None:
    with pytest.raises(ValidationError, match="RETRO_REPLY_HOSTS|origin"):
        Settings.model_validate({"retro_reply_hosts": "http://127.0.0.1:7001/path"})
