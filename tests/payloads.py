"""Slack event bodies the process, fault and load scenarios send straight to the bot (bench/load.py sends them too)."""

from __future__ import annotations

import json
import random
import string
import time


def message_event(i: int, *, team: str, channel: str, user: str, run: str) -> str:
    """A ~200-character `message` event, text `obs <i>: …`, with an event id unique per run and index."""
    words = "".join(random.choices(string.ascii_lowercase + " ", k=180))
    ts = f"{1_700_000_000 + i}.{i % 1_000_000:06d}"
    return json.dumps({"token": "t", "team_id": team, "api_app_id": "A0RETRO", "type": "event_callback",
                       "event_id": f"Ev{run}{i:07d}", "event_time": int(time.time()),
                       "authorizations": [{"team_id": team, "user_id": "U0BOT", "is_bot": True}],
                       "event": {"type": "message", "channel": channel, "user": user, "ts": ts,
                                 "text": f"obs {i}: {words}", "event_ts": ts, "channel_type": "channel"}})
