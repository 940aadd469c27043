"""What reaches Bolt: a forged request is refused with 401 and nothing else; a signed body that is not what Slack
sends is 400; answers go through response_url only to Slack's hosts; Socket Mode serves no /slack/events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.app.local import SANDBOX_SECRET, LocalStack
from tests.e2e.helpers import declare
from tests.e2e.test_security import stored_rows
from tests.signing import signed_headers

FORM = "application/x-www-form-urlencoded"


class Catcher:
    """A server an attacker controls: it records every request it gets."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.url = ""

    async def hit(self, request: web.Request) -> web.Response:
        """Record the request."""
        self.seen.append(f"{request.method} {request.path} {await request.text()}")
        return web.Response(text="ok")


@pytest.fixture
async def catcher() -> AsyncIterator[Catcher]:
    """A running Catcher on a free loopback port."""
    caught = Catcher()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", caught.hit)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    caught.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    try:
        yield caught
    finally:
        await runner.cleanup()


def command(channel: str, text: str, response_url: str, user: str = "U0ALICE") -> str:
    """A /retro command body as Slack sends it."""
    return urlencode({"command": "/retro", "text": text, "team_id": "T0SANDBOX", "user_id": user,
                      "channel_id": channel, "trigger_id": "1.2.x", "response_url": response_url})


@pytest.mark.parametrize("body,ctype", [(b"payload=%7Bbad", FORM), (b"[1,2]", "application/json"),
                                        (b"{bad", "application/json"), (b"payload=%5B1%2C2%5D", FORM),
                                        (b"\xff\xfe", "application/json"), (b"a=1&a", FORM),
                                        (b'{"type": "event_callback"}', "text/plain")])
async def test_a_signed_body_slack_would_never_send_is_400(stack: LocalStack, body: bytes, ctype: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    before, calls = await stored_rows(stack), len(stack.emulator.calls)
    headers = signed_headers(SANDBOX_SECRET, body, content_type=ctype)
    async with aiohttp.ClientSession() as http, http.post(stack.events_url, data=body, headers=headers) as resp:
        assert resp.status == 400 and await resp.text() == ""
    await stack.settle()
    assert await stored_rows(stack) == before and len(stack.emulator.calls) == calls
    assert not [r for r in caplog.records if r.exc_info], "a malformed body must not raise"


async def test_a_forged_request_gets_401_and_nothing_else(stack: LocalStack, catcher: Catcher,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    incident, _ = await declare(stack, "Forgery with a reply address")
    await stack.settle()
    before, calls = await stored_rows(stack), len(stack.emulator.calls)
    caplog.clear()
    bodies = {"command": (command(incident.channel_id, "note forged", catcher.url), FORM),
              "error-provoking command": (command(incident.channel_id, "frobnicate", catcher.url), FORM),
              "button": (urlencode({"payload": json.dumps({
                  "type": "block_actions", "team": {"id": "T0SANDBOX"}, "user": {"id": "U0ERIN"},
                  "channel": {"id": incident.channel_id}, "response_url": catcher.url,
                  "actions": [{"action_id": "nope", "value": "x"}]})}), FORM)}
    with caplog.at_level(logging.INFO, logger="retro"):
        async with aiohttp.ClientSession() as http:
            for name, (body, ctype) in bodies.items():
                for headers in ({"Content-Type": ctype}, signed_headers("", body, content_type=ctype),
                                signed_headers(SANDBOX_SECRET, body, content_type=ctype,
                                               timestamp=int(time.time()) - 600)):
                    async with http.post(stack.events_url, data=body, headers=headers) as resp:
                        assert resp.status == 401 and await resp.text() == "", name
    await stack.settle()
    assert catcher.seen == []  # no reply to an address named in an unverified body
    assert len(stack.emulator.calls) == calls  # no Slack call (no chat.postEphemeral to whoever it names)
    assert await stored_rows(stack) == before
    refused = [r for r in caplog.records if r.getMessage() == "slack request refused"]
    assert len(refused) == 9 and len(caplog.records) == 9  # one line per refused request, nothing else


async def test_replies_never_go_to_a_response_url_off_slacks_hosts(stack: LocalStack, catcher: Catcher) -> None:
    incident, _ = await declare(stack, "Reply address check")
    await stack.settle()
    body = command(incident.channel_id, "note kept", catcher.url)
    async with aiohttp.ClientSession() as http, http.post(
            stack.events_url, data=body, headers=signed_headers(SANDBOX_SECRET, body, content_type=FORM)) as resp:
        assert resp.status == 200
    await stack.settle()
    assert catcher.seen == []
    # the answer reached the person through the Web API instead
    assert any("Noted as key event" in str(e.as_dict().get("text")) for e in stack.emulator.state.ephemerals)
