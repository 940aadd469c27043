"""The `/api/{method}` endpoint: parameters, token to workspace, rate limits, dispatch."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable

from aiohttp import web

from . import api_chat, api_conversations, api_files, api_users, api_views, scopes
from .api_common import ApiContext, Handler, Params
from .events import Activity
from .oauth import OAuthServer
from .openid import METHODS as OPENID_METHODS
from .openid import OpenIdServer
from .state import JSON, ApiCall, Clock, SlackError
from .tenancy import Tenancy
from .tiers import RateTiers

log = logging.getLogger(__name__)
HANDLERS: dict[str, Handler] = {**api_conversations.HANDLERS, **api_users.HANDLERS, **api_chat.HANDLERS,
                                **api_views.HANDLERS, **api_files.HANDLERS}


async def read_params(request: web.Request) -> tuple[JSON, str | None]:
    """Merged query and body parameters, and a `token` parameter if one was sent."""
    params: JSON = dict(request.query)
    token = params.pop("token", None)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                params[key] = value.file.read() if isinstance(value, web.FileField) else value
            token = str(params.pop("token", "")) or token
    return params, token


def reply(call: ApiCall, body: JSON) -> web.Response:
    """Record the outcome of a call and answer it."""
    call.ok = bool(body.get("ok"))
    call.error = body.get("error")
    return web.json_response(body)


class WebApi:
    """Serves Web API methods for whichever workspace the caller's token belongs to."""

    def __init__(self, *, activity: Activity, tenancy: Tenancy, oauth: OAuthServer, trigger_ttl: float,
                 clock: Clock = time.monotonic) -> None:
        self.activity, self.tenancy, self.oauth, self.trigger_ttl = activity, tenancy, oauth, trigger_ttl
        self.openid = OpenIdServer(tenancy, oauth, clock=clock)  # Sign in with Slack, with the same OAuth client
        self.tiers = RateTiers(clock)
        self.latency: dict[str, tuple[float, float]] = {}  # method -> (least, most) seconds before answering
        self.calls: list[ApiCall] = []
        self.rl_every: int | None = None
        self.rl_retry_after: float = 1
        self.rl_methods: set[str] | None = None
        self.rl_seen = 0

    def ratelimit(self, every_nth: int | None, retry_after: float, methods: set[str] | None) -> None:
        """Answer every n-th matching call with HTTP 429 (None turns it off)."""
        self.rl_every = every_nth
        self.rl_retry_after = retry_after
        self.rl_methods = set(methods) if methods else None
        self.rl_seen = 0

    def _ratelimited(self, method: str) -> bool:
        if not self.rl_every or (self.rl_methods is not None and method not in self.rl_methods):
            return False
        self.rl_seen += 1
        return self.rl_seen % self.rl_every == 0

    async def handle(self, request: web.Request) -> web.Response:
        """One Web API request."""
        method = request.match_info["method"]
        self.activity.begin()
        call = ApiCall(method=method, params={}, at=time.time())
        self.calls.append(call)
        try:
            least, most = self.latency.get(method, (0.0, 0.0))
            if most > 0:
                await asyncio.sleep(random.uniform(least, most))
            return await self._handle(request, method, call)
        finally:
            self.activity.end()

    async def _handle(self, request: web.Request, method: str, call: ApiCall) -> web.Response:
        try:
            call.params, token = await read_params(request)
        except (json.JSONDecodeError, SlackError):
            return reply(call, {"ok": False, "error": "invalid_json"})
        header = request.headers.get("Authorization", "")
        if method == "oauth.v2.access":
            return self._dispatch(call, lambda: self.oauth.access(Params(call.params), header))
        if method in OPENID_METHODS:  # client credentials or the user token openid.connect.token issued
            openid_token = token
            return self._dispatch(call, lambda: self.openid.call(method, Params(call.params), header, openid_token))
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else token
        if not token:
            return reply(call, {"ok": False, "error": "not_authed"})
        try:
            ws = self.tenancy.resolve(token, method, call.params)  # an org-wide token acts where the call says
        except SlackError as err:
            return reply(call, {"ok": False, "error": err.error})
        call.team_id = ws.team_id
        ctx = ApiContext(ws=ws, trigger_ttl=self.trigger_ttl, scopes=frozenset(self.tenancy.tokens[token].scopes))

        def run() -> JSON:
            handler = HANDLERS.get(method)
            if handler is None:
                # Retired APIs answer method_deprecated rather than unknown_method.
                family = method.split(".")[0]
                retired = method == "files.upload" or family in ("channels", "groups", "im", "mpim")
                raise SlackError("method_deprecated" if retired else "unknown_method")
            params = Params(call.params)
            scopes.check(ctx, method, params)
            return handler(ctx, params)

        return self._dispatch(call, run)

    def _dispatch(self, call: ApiCall, run: Callable[[], JSON]) -> web.Response:
        channel = call.params.get("channel")
        wait: float | None = self.tiers.retry_after(call.team_id or "", call.method,
                                                    channel if isinstance(channel, str) else None)
        if wait is None and self._ratelimited(call.method):
            wait = self.rl_retry_after
        if wait is not None:
            call.ratelimited = True
            call.status = 429
            call.error = "ratelimited"
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": f"{wait:g}"})
        try:
            result = run()
        except SlackError as err:
            return reply(call, {"ok": False, "error": err.error, **err.extra})
        except Exception:
            log.exception("sandbox handler for %s crashed", call.method)
            call.status, call.error = 500, "fatal_error"
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        return reply(call, {"ok": True, **result})
