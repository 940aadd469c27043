"""SlackEmulator: a local Slack Web API, Events API sender and file host over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable

from aiohttp import web

from . import actions, install, signin, views
from .events import Activity, EventBus
from .hosted import HostedRoutes
from .interactions import LateAck
from .oauth import AUTHORIZE_PATH, OAuthServer
from .scopes import manifest_bot_scopes, manifest_setting
from .state import JSON, ApiCall, Channel, Clock, Delivery
from .tenancy import Tenancy
from .webapi import WebApi
from .workspace import SEED_HUMANS, Workspace


class SlackEmulator:
    """A faithful local Slack: workspaces with one app, Web API under `api_url`, events sent to `events_url`."""

    def __init__(self, *, signing_secret: str, events_url: str | None = None, team_id: str = "T0SANDBOX",
                 bot_token: str = "xoxb-sandbox-token", trigger_ttl: float = 3.0, retry_delay: float = 0.05,
                 delivery_timeout: float = 3.0, verification_token: str = "sandbox-verification-token",
                 drain_settle: float = 0.05, event_subscriptions: Iterable[str] | None = None,
                 clock: Clock = time.monotonic, bot_scopes: Iterable[str] | None = None) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.trigger_ttl = trigger_ttl
        self.drain_settle = drain_settle
        self._runner: web.AppRunner | None = None
        self._base = ""
        self.activity = Activity()
        self.bus = EventBus(self.activity, signing_secret=signing_secret, verification_token=verification_token,
                            retry_delay=retry_delay, timeout=delivery_timeout, clock=clock)
        self.bus.url = events_url
        self.bus.subscriptions = set(event_subscriptions) if event_subscriptions is not None else None
        self.clock = clock  # every expiry reads it: trigger ids, response_urls, OAuth codes
        # A token installed without OAuth holds what the app's manifest asks for, no more.
        seeded = manifest_bot_scopes() if bot_scopes is None else bot_scopes
        self.tenancy = Tenancy(app_id="A0SANDBOX", on_add=self._wire, clock=clock, seed_scopes=seeded)
        self.workspace = self.tenancy.add(team_id, name="Sandbox", domain="sandbox", token=bot_token)
        # The app's org_deploy_enabled and token_rotation_enabled as manifest.yml sets them (app_settings changes).
        self.oauth = OAuthServer(self.tenancy, clock=clock, org_deploy_enabled=manifest_setting("org_deploy_enabled"),
                                 token_rotation_enabled=manifest_setting("token_rotation_enabled"))
        self.api = WebApi(activity=self.activity, tenancy=self.tenancy, oauth=self.oauth, trigger_ttl=trigger_ttl,
                          clock=clock)
        self.calls: list[ApiCall] = self.api.calls
        self.late_acks: list[LateAck] = []  # interactions acknowledged after Slack's 3 s
        self.hosted = HostedRoutes(self.tenancy, self.activity)  # file downloads, uploads, response_urls

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving HTTP and delivering events."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self.api.handle)
        self.hosted.register(app)
        self.oauth.register(app)
        self.api.openid.register(app)  # Sign in with Slack: /openid/connect/authorize and /openid/connect/keys
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self._base = f"http://{host}:{bound_port}"
        for ws in self.tenancy.workspaces.values():
            ws.public_url = self._base
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

    def ratelimit(self, every_nth: int | None, retry_after: float = 1, methods: set[str] | None = None) -> None:
        """Answer every n-th matching call with HTTP 429 (None turns it off).

        Slack's Retry-After is whole seconds; a fraction (e.g. 0.05) keeps rate-limit scenarios fast.
        """
        self.api.ratelimit(every_nth, retry_after, methods)

    def slow(self, methods: Iterable[str], least: float, most: float | None = None) -> None:
        """Answer these Web API methods after `least`..`most` seconds (0 turns it off; off by default)."""
        for method in methods:
            if least <= 0 and not most:
                self.api.latency.pop(method, None)
            else:
                self.api.latency[method] = (least, least if most is None else most)

    def workspace_for(self, team_id: str | None = None) -> Workspace:
        """A workspace by team id (the default workspace for None)."""
        return self.workspace if team_id is None else self.tenancy.get(team_id)

    def add_user(self, name: str, *, real_name: str | None = None, is_bot: bool = False,
                 team_id: str | None = None) -> str:
        """Add a workspace member; returns its user id."""
        return self.workspace_for(team_id).add_user(name, real_name=real_name, is_bot=is_bot)

    def create_channel(self, name: str, *, creator: str = "alice", members: Iterable[str] = (),
                       is_private: bool = False, team_id: str | None = None) -> str:
        """Create a channel as a human (the bot is only in it if listed in `members`)."""
        ws = self.workspace_for(team_id)
        ch = actions.create_channel(ws, name, ws.user(creator), is_private=is_private)
        for ref in members:
            actions.join_channel(ws, ch, ws.user(ref))
        return ch.id

    def channel(self, ref: str, *, team_id: str | None = None) -> Channel:
        """A channel by id or `#name`."""
        return self.workspace_for(team_id).channel(ref)

    def issue_trigger(self, user: str, *, team_id: str | None = None) -> str:
        """Issue a trigger_id for a user, as an interaction would."""
        ws = self.workspace_for(team_id)
        return views.issue_trigger(ws, ws.user(user).id)

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

    def events(self, type: str | None = None, *, team_id: str | None = None) -> list[JSON]:
        """Inner events that were sent (or dropped), optionally of one type or one workspace."""
        out = []
        for d in self.bus.deliveries:
            event = d.payload.get("event")
            if team_id is not None and d.payload.get("team_id") != team_id:
                continue
            if isinstance(event, dict) and (type is None or event.get("type") == type):
                out.append(event)
        return out

    def _wire(self, ws: Workspace) -> None:
        ws.public_url = self._base or ws.public_url
        ws.emit = lambda event: self._publish(event, ws)

    def _publish(self, event: JSON, ws: Workspace) -> None:
        self.bus.publish(event, ws)

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

    def add_workspace(self, team_id: str, *, name: str, domain: str, installed: bool = True,
                      humans: Iterable[str] = SEED_HUMANS) -> Workspace:
        """Add a workspace (own users, #general, bot user); installed ones get a bot token at once."""
        return self.tenancy.add(team_id, name=name, domain=domain, humans=humans, installed=installed)

    def bot_token_for(self, team_id: str | None = None) -> str:
        """The newest live bot token of a workspace (KeyError when the app is not installed there)."""
        ws = self.workspace_for(team_id)
        live = self.tenancy.live_tokens(ws.team_id)
        if not live:
            raise KeyError(f"the app is not installed in {ws.team_id}")
        return live[-1].token

    def configure_oauth(self, client_id: str, client_secret: str, *, redirect_uris: Iterable[str] = ()) -> None:
        """Set the app's OAuth credentials and its configured redirect URLs (Sign in with Slack uses them too)."""
        self.oauth.configure(client_id, client_secret, list(redirect_uris))

    @property
    def authorize_url(self) -> str:
        """The OAuth v2 authorize page, for `AsyncOAuthSettings(authorization_url=...)`."""
        return self._base + AUTHORIZE_PATH

    async def openid_sign_in(self, start_url: str, *, user: str = "alice") -> signin.SignedIn:
        """Sign in with Slack like a browser: the app's start URL, "Continue as <user>", the app's callback;
        returns the final response and the cookies the app set."""
        return await signin.sign_in(self._base, start_url, user=user)

    def app_settings(self, *, org_deploy_enabled: bool, token_rotation_enabled: bool) -> None:
        """Set the app's manifest settings: org-wide installs allowed, expiring tokens issued by OAuth."""
        self.oauth.org_deploy_enabled, self.oauth.token_rotation_enabled = org_deploy_enabled, token_rotation_enabled

    def _installing_into(self, team_id: str | None, url: str) -> str:
        chosen = team_id or install.team_in(url)
        return chosen if chosen in self.tenancy.enterprises() else self.workspace_for(chosen).team_id

    async def oauth_authorize(self, authorize_url: str, *, user: str = "alice", team_id: str | None = None,
                              allow: bool = True) -> str:
        """Open an authorize URL as `user` and press Allow (or Cancel); returns the redirect back to the app.
        `team_id` may be an enterprise id: an org admin installing for the whole organization."""
        team = self._installing_into(team_id, authorize_url)
        return await install.authorize(self._base, authorize_url, team_id=team, user=user, allow=allow)

    async def install_app(self, install_url: str, *, team_id: str | None = None, user: str = "alice",
                          allow: bool = True) -> tuple[int, str]:
        """Follow the app's install URL, Allow, and load its redirect in one browser session: (status, body)."""
        team = self._installing_into(team_id, install_url)
        return await install.install(self._base, install_url, team_id=team, user=user, allow=allow)

    def add_org_to(self, enterprise_id: str, *team_ids: str) -> None:
        """An org admin adds the org-wide installed app to these workspaces of the organization."""
        self.tenancy.add_org_to(enterprise_id, team_ids)

    async def uninstall_org(self, enterprise_id: str) -> list[Delivery]:
        """Remove an org-wide install: revoke its tokens and send app_uninstalled and tokens_revoked for the org."""
        sent = self.tenancy.uninstall_org(enterprise_id, self.bus.publish)
        await self.drain()
        return sent

    async def uninstall(self, team_id: str | None = None) -> list[Delivery]:
        """Uninstall the app from a workspace: revoke its bot tokens, send app_uninstalled and tokens_revoked."""
        ws = self.workspace_for(team_id)
        if not ws.installed:
            raise ValueError(f"the app is not installed in {ws.team_id}")
        revoked = self.tenancy.revoke(ws.team_id)
        bots = sorted({grant.bot_user_id for grant in revoked})
        sent = [self.bus.publish({"type": "app_uninstalled"}, ws),
                self.bus.publish({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": bots}}, ws)]
        ws.uninstall_bot()
        await self.drain()
        return sent
