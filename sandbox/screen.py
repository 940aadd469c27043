"""What the REPL prints: new and changed things the current user can see, with numbered targets."""

from __future__ import annotations

from typing import TextIO

from . import views
from .render import Rendered, Target, mrkdwn_to_plain, render_message, render_view
from .shapes import message_json, view_json
from .state import JSON, Message
from .workspace import Workspace

SYSTEM_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_archive"}


class Screen:
    """Tracks what a user has already seen and prints what changed."""

    def __init__(self, ws: Workspace, out: TextIO) -> None:
        self.ws = ws
        self.out = out
        self.targets: dict[int, Target] = {}
        self.messages: dict[int, tuple[str, str]] = {}
        self._seen: dict[str, dict[str, str]] = {}

    def names(self) -> dict[str, str]:
        """Id → name for users and channels."""
        names = {u.id: u.name for u in self.ws.users.values()}
        names.update({c.id: c.name for c in self.ws.channels.values() if not c.is_im})
        return names

    def say(self, text: str) -> None:
        """Print a line."""
        self.out.write(text + "\n")
        self.out.flush()

    def new_batch(self) -> None:
        """Start numbering targets and messages from 1 again."""
        self.targets.clear()
        self.messages.clear()

    def _visible(self, user_id: str) -> dict[str, str]:
        state: dict[str, str] = {}
        for cid, msgs in self.ws.messages.items():
            ch = self.ws.channels[cid]
            if user_id not in ch.members:
                continue
            for ts, m in msgs.items():
                reactions = ",".join(f"{k}{len(v)}" for k, v in m.reactions.items())
                state[f"m|{cid}|{ts}"] = f"{(m.edited or {}).get('ts', '')}|{reactions}|{m.subtype}"
        for e in self.ws.ephemerals_for(user_id):
            state[f"e|{e.channel}|{e.ts}"] = f"{e.text}|{e.blocks}"
        for v in views.open_modals(self.ws, user_id):
            state[f"v|{v.id}"] = v.hash
        home = self.ws.home_views.get(user_id)
        if home:
            state[f"h|{home}"] = self.ws.views[home].hash
        return state

    def mark_seen(self, user_id: str, *, only_if_new: bool = False) -> None:
        """Remember what a user can see now as already shown."""
        if not (only_if_new and user_id in self._seen):
            self._seen[user_id] = self._visible(user_id)

    def show_changes(self, user_id: str, *, skip_own: bool = True) -> None:
        """Print everything new or changed since the last call."""
        now = self._visible(user_id)
        seen = self._seen.get(user_id, {})
        changed = [k for k, v in now.items() if seen.get(k) != v]
        self._seen[user_id] = now
        self.new_batch()
        for key in changed:
            kind, _, rest = key.partition("|")
            if kind == "m":
                cid, _, ts = rest.partition("|")
                msg = self.ws.messages[cid][ts]
                if skip_own and msg.user == user_id and msg.edited is None and not msg.files:
                    continue
                self.show_message(msg)
            elif kind == "e":
                cid, _, ts = rest.partition("|")
                eph = next(e for e in self.ws.ephemerals_for(user_id, cid) if e.ts == ts)
                # Ephemeral messages appear as coming from the app.
                self.show_dict({**eph.as_dict(), "user": self.ws.bot_user_id, "bot_id": self.ws.bot_id}, cid)
            elif kind in ("v", "h"):
                self.show_view(view_json(self.ws, self.ws.views[rest]))

    def _label(self, cid: str) -> str:
        ch = self.ws.channels[cid]
        return "DM with app" if ch.is_im else f"#{ch.name}"

    def show_message(self, msg: Message) -> None:
        """Print one channel message."""
        if msg.subtype in SYSTEM_SUBTYPES:
            self.say(f"  · {self._label(msg.channel)}: {mrkdwn_to_plain(msg.text, self.names())}")
            return
        self.show_dict(message_json(self.ws, msg), msg.channel)

    def show_dict(self, msg: JSON, cid: str) -> None:
        """Print a message dict with numbered targets."""
        rendered = render_message(msg, names=self.names(), start=len(self.targets) + 1, channel=cid)
        number = len(self.messages) + 1
        self.messages[number] = (cid, str(msg.get("ts")))
        self.say(f"({number}) {self._label(cid)} · " + rendered.text)
        self._keep(rendered)

    def show_view(self, view: JSON) -> Rendered:
        """Print a modal or home view with numbered targets and fields."""
        rendered = render_view(view, names=self.names(), start=len(self.targets) + 1)
        self.say(rendered.text)
        self._keep(rendered)
        return rendered

    def _keep(self, rendered: Rendered) -> None:
        for t in rendered.targets:
            self.targets[t.index] = t
