"""Signed HTTP delivery to the app: Events API queue with Slack's retry behaviour."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

import aiohttp

from .state import JSON, Attempt, Clock, Delivery
from .workspace import Workspace

log = logging.getLogger(__name__)
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` HMAC-SHA256 signature of a request, as in X-Slack-Signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def subscription_of(event: JSON) -> str:
    """The bot event subscription that carries an event (`message.channels`, `reaction_added`, …)."""
    kind = str(event.get("type"))
    if kind != "message":
        return kind
    suffix = {"channel": "channels", "group": "groups", "im": "im", "mpim": "mpim"}
    return "message." + suffix.get(str(event.get("channel_type")), "channels")


@dataclass
class HttpResult:
    """Outcome of one signed request to the app."""

    status: int | None
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str | None = None


class Activity:
    """Counts outstanding work so callers can wait for the system to go quiet."""

    def __init__(self) -> None:
        self.inflight = 0
        self.last = time.monotonic()

    def begin(self) -> None:
        """Mark the start of some work."""
        self.inflight += 1
        self.last = time.monotonic()

    def end(self) -> None:
        """Mark the end of some work."""
        self.inflight -= 1
        self.last = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last activity, or 0 while work is outstanding."""
        return 0.0 if self.inflight > 0 else time.monotonic() - self.last


async def post_signed(session: aiohttp.ClientSession, url: str, body: bytes, *, secret: str,
                      content_type: str, timeout: float, headers: dict[str, str] | None = None) -> HttpResult:
    """POST a body signed the way Slack signs requests to apps."""
    stamp = str(int(time.time()))
    all_headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": signature(secret, stamp, body), **(headers or {})}
    started = time.monotonic()
    try:
        async with session.post(url, data=body, headers=all_headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = await resp.text()
            ok = 200 <= resp.status < 300
            return HttpResult(resp.status, text, dict(resp.headers), time.monotonic() - started,
                              None if ok else "http_error")
    except TimeoutError:
        return HttpResult(None, seconds=time.monotonic() - started, reason="http_timeout")
    except aiohttp.ClientError as exc:
        log.debug("delivery to %s failed: %s", url, exc)
        return HttpResult(None, seconds=time.monotonic() - started, reason="connection_failed")


# Slack retries a delivery that got no 200 three times: nearly immediately, after 1 minute, after 5 minutes
# (https://api.slack.com/apis/events-api#retries). Seconds after the failed attempt, on the emulator's clock.
RETRY_AFTER = (0.0, 60.0, 300.0)


class EventBus:
    """Queue + worker delivering Events API envelopes to the app's request URL."""

    def __init__(self, activity: Activity, *, signing_secret: str, verification_token: str,
                 retry_delay: float, timeout: float, max_retries: int = 3, clock: Clock = time.monotonic) -> None:
        self.activity = activity
        self.clock = clock
        self.due: dict[tuple[str, int], float] = {}  # (event_id, retry number) -> when Slack sends that retry
        self._later: set[asyncio.Task[None]] = set()
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.max_retries = max_retries
        self.url: str | None = None
        self.subscriptions: set[str] | None = None
        self.deliveries: list[Delivery] = []
        self.events_sent = 0  # event ids carry on from here (a resumed sandbox keeps it: ids never repeat)
        self._queue: asyncio.Queue[Delivery] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start the worker and the HTTP session."""
        self.session = aiohttp.ClientSession()
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run(), name="sandbox-event-delivery")

    async def stop(self) -> None:
        """Stop the worker and close the HTTP session."""
        for task in list(self._later):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    def envelope(self, event: JSON, ws: Workspace) -> JSON:
        """Wrap an event of a workspace in the event_callback envelope Slack sends."""
        self.events_sent += 1
        # An org-wide install's events say so in `authorizations[].is_enterprise_install`; the workspace's team_id
        # stays (https://api.slack.com/enterprise/apps/reference, "Sample event payload"). Events of the organization
        # itself carry a null team_id (https://api.slack.com/events/team_access_revoked).
        team = None if ws.org_level else ws.team_id
        return {
            "token": self.verification_token, "team_id": team, "enterprise_id": ws.enterprise_id,
            "context_team_id": team, "context_enterprise_id": ws.enterprise_id, "api_app_id": ws.app_id,
            "event": event, "type": "event_callback",
            "event_id": f"Ev{self.events_sent:010d}", "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": ws.enterprise_id, "team_id": team, "user_id": ws.bot_user_id,
                                "is_bot": True, "is_enterprise_install": ws.org_install or ws.org_level}],
            "is_ext_shared_channel": False, "event_context": "4-" + secrets.token_urlsafe(24),
        }

    def publish(self, event: JSON, ws: Workspace) -> Delivery:
        """Queue an event for delivery (dropped without a request URL, a subscription or an installation)."""
        payload = self.envelope(event, ws)
        delivery = Delivery(event_id=payload["event_id"], type=str(event.get("type")), payload=payload)
        self.deliveries.append(delivery)
        unsubscribed = self.subscriptions is not None and subscription_of(event) not in self.subscriptions
        if self.url is None or self._queue is None or unsubscribed or not ws.installed:
            delivery.dropped = True
            return delivery
        self.activity.begin()
        self._queue.put_nowait(delivery)
        return delivery

    @property
    def pending(self) -> int:
        """Events queued but not yet delivered."""
        queued = self._queue.qsize() if self._queue is not None else 0
        now = self.clock()
        return queued + sum(1 for at in self.due.values() if at <= now)  # retries whose time has come

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._deliver(delivery)
            except Exception:
                log.exception("event delivery crashed")
            finally:
                self.activity.end()

    async def _deliver(self, delivery: Delivery, retry_num: int | None = None, reason: str | None = None) -> None:
        body = json.dumps(delivery.payload).encode()
        while True:
            result = await self.send(body, retry_num=retry_num, retry_reason=reason)
            delivery.attempts.append(Attempt(retry_num, result.status, reason, result.seconds))
            # Apps can opt out of retries for one request.
            if result.reason is None or result.headers.get("X-Slack-No-Retry") == "1":
                return
            following = (retry_num or 0) + 1
            if following > self.max_retries:
                return
            retry_num, reason = following, result.reason
            wait = RETRY_AFTER[min(following, len(RETRY_AFTER)) - 1]
            if wait <= 0:
                await asyncio.sleep(self.retry_delay)
                continue
            # A later retry does not hold up the queue: other events keep flowing meanwhile.
            self.due[(delivery.event_id, following)] = self.clock() + wait
            task = asyncio.create_task(self._retry_when_due(delivery, following, result.reason))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
            return

    async def _retry_when_due(self, delivery: Delivery, retry_num: int, reason: str) -> None:
        key = (delivery.event_id, retry_num)
        while self.clock() < self.due[key]:
            await asyncio.sleep(self.retry_delay)
        self.activity.begin()
        self.due.pop(key)
        try:
            await self._deliver(delivery, retry_num, reason)
        except Exception:
            log.exception("event retry crashed")
        finally:
            self.activity.end()

    async def send(self, body: bytes, *, retry_num: int | None = None, retry_reason: str | None = None,
                   url: str | None = None) -> HttpResult:
        """Send one signed JSON body to the request URL."""
        target = url or self.url
        if target is None or self.session is None:
            return HttpResult(None, reason="connection_failed")
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_error"
        return await post_signed(self.session, target, body, secret=self.signing_secret,
                                 content_type="application/json", timeout=self.timeout, headers=headers)

    async def send_once(self, payload: JSON, *, retry_num: int | None, retry_reason: str | None,
                        delivery: Delivery | None = None) -> int | None:
        """Send a payload once (no automatic retries), recording it; returns the HTTP status."""
        if delivery is None:
            event = payload.get("event")
            kind = event.get("type") if isinstance(event, dict) else payload.get("type")
            delivery = Delivery(event_id=str(payload.get("event_id", "")), type=str(kind), payload=payload)
            self.deliveries.append(delivery)
        self.activity.begin()
        try:
            body = json.dumps(payload).encode()
            result = await self.send(body, retry_num=retry_num, retry_reason=retry_reason)
        finally:
            self.activity.end()
        delivery.attempts.append(Attempt(retry_num, result.status, retry_reason, result.seconds))
        return result.status
