"""The baseline: a bare slack-bolt AsyncApp with a no-op message listener on aiohttp (same signing, same port
handling), so Retro's ingestion rate can be compared with Bolt's own ceiling on the same machine."""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult


def build(secret: str) -> web.Application:
    """A Bolt app that acknowledges every message event and does nothing else."""
    async def authorize(**_: object) -> AuthorizeResult:
        # No Web API round trip: the baseline measures request handling only.
        return AuthorizeResult(enterprise_id=None, team_id="T0SANDBOX", bot_user_id="U0BOT", bot_id="B0BOT",
                               bot_token="xoxb-bare")

    bolt = AsyncApp(signing_secret=secret, authorize=authorize, request_verification_enabled=True)

    @bolt.event("message")
    async def noop(body: dict[str, object]) -> None:
        return None

    @bolt.command("/retro")
    async def noop_command(ack: object) -> None:
        await ack()  # type: ignore[operator]

    async def events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


def main() -> None:
    """Serve until killed."""
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", required=True)
    a = p.parse_args()
    asyncio.run(web._run_app(build(a.secret), host="127.0.0.1", port=a.port, print=None))


if __name__ == "__main__":
    main()
