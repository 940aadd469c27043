"""SlackEmulator: a local Slack Web API, Events API sender and file host over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable

from aiohttp import web

from . import actions, api_chat, api_conversations, api_files, api_views, views
from .api_common import ApiContext, Handler, Params
from .events import Activity, EventBus
from .hosted import HostedRoutes
from .state import JSON, ApiCall, Channel, Delivery, SlackError
from .workspace import Workspace

log = logging.getLogger(__name__)
HANDLERS: dict[str, Handler] = {**api_conversations.HANDLERS, **api_chat.HANDLERS, **api_views.HANDLERS,
                                **api_files.HANDLERS}


class SlackEmulator:
    """A faithful local Slack workspace: Web API under `api_url`, events sent to `events_url`."""

    def __init__(self, *, signing_secret: str, events_url: str | None = None, team_id: str = "T0SANDBOX",
                 bot_token: str = "xoxb-sandbox-token", trigger_ttl: float = 3.0, retry_delay: float = 0.05,
                 delivery_timeout: float = 3.0, verification_token: str = "sandbox-verification-token",
                 drain_settle: float = 0.05, event_subscriptions: Iterable[str] | None = None) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.trigger_ttl = trigger_ttl
        self.drain_settle = drain_settle
        self.workspace = Workspace(team_id=team_id)
        self.activity = Activity()
        self.bus = EventBus(self.workspace, self.activity, signing_secret=signing_secret,
                            verification_token=verification_token, retry_delay=retry_delay,
                            timeout=delivery_timeout)
        self.bus.url = events_url
        self.bus.subscriptions = set(event_subscriptions) if event_subscriptions is not None else None
        self.workspace.emit = self._emit
        self.calls: list[ApiCall] = []
        self._rl_every: int | None = None
        self._rl_retry_after = 1
        self._rl_methods: set[str] | None = None
        self._rl_seen = 0
        self._runner: web.AppRunner | None = None
        self._base = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving HTTP and delivering events."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        HostedRoutes(self.workspace, self.activity, self.bot_token).register(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self._base = f"http://{host}:{bound_port}"
        self.workspace.public_url = self._base
        await self.bus.start()

    async def stop(self) -> None:
        """Stop the worker and the HTTP server."""
        await self.bus.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Root URL of the emulator, e.g. `http://127.0.0.1:PORT`."""
        return self._base

    @property
    def api_url(self) -> str:
        """Web API base URL to give to `AsyncWebClient(base_url=...)`."""
        return f"{self._base}/api/"

    @property
    def events_url(self) -> str | None:
        """The app's request URL (events, commands and interactions are sent there)."""
        return self.bus.url

    @events_url.setter
    def events_url(self, url: str | None) -> None:
        self.bus.url = url

    @property
    def state(self) -> Workspace:
        """The in-memory workspace (alias of `workspace`)."""
        return self.workspace

    def ratelimit(self, every_nth: int | None, retry_after: int = 1, methods: set[str] | None = None) -> None:
        """Answer every n-th matching call with HTTP 429 (None turns it off)."""
        self._rl_every = every_nth
        self._rl_retry_after = retry_after
        self._rl_methods = set(methods) if methods else None
        self._rl_seen = 0

    def add_user(self, name: str, *, real_name: str | None = None, is_bot: bool = False) -> str:
        """Add a workspace member; returns its user id."""
        return self.workspace.add_user(name, real_name=real_name, is_bot=is_bot)

    def create_channel(self, name: str, *, creator: str = "alice", members: Iterable[str] = (),
                       is_private: bool = False) -> str:
        """Create a channel as a human (the bot is only in it if listed in `members`)."""
        ws = self.workspace
        ch = actions.create_channel(ws, name, ws.user(creator), is_private=is_private)
        for ref in members:
            actions.join_channel(ws, ch, ws.user(ref))
        return ch.id

    def channel(self, ref: str) -> Channel:
        """A channel by id or `#name`."""
        return self.workspace.channel(ref)

    def issue_trigger(self, user: str) -> str:
        """Issue a trigger_id for a user, as an interaction would."""
        return views.issue_trigger(self.workspace, self.workspace.user(user).id)

    def calls_for(self, method: str) -> list[ApiCall]:
        """Calls of one Web API method (including rate-limited ones)."""
        return [c for c in self.calls if c.method == method]

    def call_count(self, method: str | None = None, *, exclude: Iterable[str] = (),
                   include_ratelimited: bool = False) -> int:
        """Number of Web API calls, optionally for one method or excluding some methods."""
        skip = set(exclude)
        return sum(1 for c in self.calls if (method is None or c.method == method) and c.method not in skip
                   and (include_ratelimited or not c.ratelimited))

    @property
    def deliveries(self) -> list[Delivery]:
        """Every event delivery record, in order."""
        return self.bus.deliveries

    def events(self, type: str | None = None) -> list[JSON]:
        """Inner events that were sent (or dropped), optionally of one type."""
        out = []
        for d in self.bus.deliveries:
            event = d.payload.get("event")
            if isinstance(event, dict) and (type is None or event.get("type") == type):
                out.append(event)
        return out

    def _emit(self, event: JSON) -> None:
        self.bus.publish(event)

    async def drain(self, timeout: float = 10.0, *, settle: float | None = None) -> None:
        """Wait until no events are queued or in flight and no API calls happened for `settle` seconds."""
        settle = self.drain_settle if settle is None else settle
        deadline = time.monotonic() + timeout
        while self.bus.pending or self.activity.quiet_for() < settle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox still busy after {timeout}s ({self.bus.pending} events queued)")
            await asyncio.sleep(0.005)

    async def deliver_raw(self, payload: JSON, *, retry_num: int | None = None,
                          retry_reason: str | None = None) -> int | None:
        """Send an arbitrary payload, signed, once; returns the HTTP status (None if unreachable)."""
        reason = retry_reason or ("http_timeout" if retry_num else None)
        return await self.bus.send_once(payload, retry_num=retry_num, retry_reason=reason)

    async def redeliver(self, event_id: str, retry_num: int = 1,
                        retry_reason: str = "http_timeout") -> int | None:
        """Send an already delivered event again as retry `retry_num` (Slack's duplicate delivery)."""
        delivery = next((d for d in self.bus.deliveries if d.event_id == event_id), None)
        if delivery is None:
            raise KeyError(event_id)
        return await self.bus.send_once(delivery.payload, retry_num=retry_num, retry_reason=retry_reason,
                                        delivery=delivery)

    async def verify_url(self) -> bool:
        """Run the url_verification handshake against `events_url`."""
        challenge = "sandbox-challenge-" + str(time.time_ns())
        payload = {"token": self.bus.verification_token, "challenge": challenge, "type": "url_verification"}
        result = await self.bus.send(json.dumps(payload).encode())
        if result.status != 200:
            return False
        try:
            return bool(json.loads(result.text).get("challenge") == challenge)
        except (json.JSONDecodeError, AttributeError):
            return result.text.strip() == challenge

    async def _read_params(self, request: web.Request) -> tuple[JSON, str | None]:
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

    def _ratelimited(self, method: str) -> bool:
        if not self._rl_every or (self._rl_methods is not None and method not in self._rl_methods):
            return False
        self._rl_seen += 1
        return self._rl_seen % self._rl_every == 0

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.activity.begin()
        call = ApiCall(method=method, params={}, at=time.time())
        self.calls.append(call)
        try:
            try:
                call.params, token = await self._read_params(request)
            except (json.JSONDecodeError, SlackError):
                return self._reply(call, {"ok": False, "error": "invalid_json"})
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else token
            if not token:
                return self._reply(call, {"ok": False, "error": "not_authed"})
            if token != self.bot_token:
                return self._reply(call, {"ok": False, "error": "invalid_auth"})
            if self._ratelimited(method):
                call.ratelimited = True
                call.status = 429
                call.error = "ratelimited"
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(self._rl_retry_after)})
            handler = HANDLERS.get(method)
            if handler is None:
                # Retired APIs answer method_deprecated rather than unknown_method.
                family = method.split(".")[0]
                retired = method == "files.upload" or family in ("channels", "groups", "im", "mpim")
                error = "method_deprecated" if retired else "unknown_method"
                return self._reply(call, {"ok": False, "error": error})
            ctx = ApiContext(ws=self.workspace, trigger_ttl=self.trigger_ttl)
            try:
                result = handler(ctx, Params(call.params))
            except SlackError as err:
                return self._reply(call, {"ok": False, "error": err.error, **err.extra})
            except Exception:
                log.exception("sandbox handler for %s crashed", method)
                call.status, call.error = 500, "fatal_error"
                return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
            return self._reply(call, {"ok": True, **result})
        finally:
            self.activity.end()

    @staticmethod
    def _reply(call: ApiCall, body: JSON) -> web.Response:
        call.ok = bool(body.get("ok"))
        call.error = body.get("error")
        return web.json_response(body)
