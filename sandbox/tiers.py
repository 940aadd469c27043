"""Slack's per-method rate-limit tiers and chat.postMessage's per-channel limit, as token buckets on a clock.

Always enforced, as Slack enforces them: no switch turns them off (`SlackEmulator.ratelimit` only adds faults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .state import Clock

# Per-method tiers, calls per minute per workspace (https://api.slack.com/apis/rate-limits and each method's page):
# Tier 1 1+/min, Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min. Slack allows "occasional bursts" without a figure;
# the strictest reading is modelled: a burst never exceeds one minute's allowance.
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "conversations.create": 2, "conversations.archive": 2, "pins.add": 2, "conversations.setTopic": 2,
    "conversations.invite": 3, "conversations.info": 3, "conversations.history": 3, "conversations.replies": 3,
    "conversations.join": 3, "users.conversations": 3, "chat.update": 3, "chat.delete": 3,
    "conversations.members": 4, "conversations.list": 2, "users.info": 4, "users.list": 2,
    "chat.postEphemeral": 4, "views.open": 4, "views.update": 4, "views.push": 4, "views.publish": 4,
    "files.getUploadURLExternal": 4, "files.completeUploadExternal": 4, "files.info": 4,
    "openid.connect.token": 4,  # https://api.slack-gov.com/methods/openid.connect.token ("Rate limits: Tier 4")
}
# chat.postMessage is "special": about 1 message per second per channel, short bursts allowed
# (https://api.slack.com/methods/chat.postMessage#rate_limiting). The burst size is undocumented; 3 is modelled.
POST_PER_SECOND = 1.0
POST_BURST = 3


@dataclass
class Bucket:
    """Tokens that refill at `rate` per second up to `capacity`."""

    capacity: float
    rate: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """Take one token: 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateTiers:
    """Decides whether a call is over Slack's limit; answers the Retry-After in whole seconds."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def _bucket(self, key: tuple[str, str, str], capacity: float, rate: float) -> Bucket:
        if key not in self._buckets:
            self._buckets[key] = Bucket(capacity, rate, capacity, self.clock())
        return self._buckets[key]

    def retry_after(self, team_id: str, method: str, channel: str | None) -> int | None:
        """None when the call is within its limit, else the Retry-After (seconds, at least 1)."""
        if method == "chat.postMessage":
            if not channel:
                return None
            bucket = self._bucket((team_id, method, channel), POST_BURST, POST_PER_SECOND)
        elif method in METHOD_TIERS:
            per_minute = TIER_PER_MINUTE[METHOD_TIERS[method]]
            bucket = self._bucket((team_id, method, ""), per_minute, per_minute / 60)
        else:
            return None
        wait = bucket.take(self.clock())
        return max(1, math.ceil(wait)) if wait else None
