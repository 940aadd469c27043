"""What the REPL prints: new and changed things the current user can see, with stable numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from . import views
from .render import Rendered, Target, mrkdwn_to_plain, render_message, render_view
from .shapes import message_json, view_json
from .state import JSON, Message
from .workspace import Workspace

SYSTEM_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_archive"}
Seen = dict[str, str]


class Screen:
    """Tracks what each user has already seen and prints what changed.

    A message keeps the number it was first shown with (when more arrive, when it is edited, in `history`), and a
    button keeps its number too, so `thread 3 …` and `click 7` mean the same thing until the session ends. The App
    Home is not part of the feed: it is shown when asked for (`show_view`).
    """

    def __init__(self, ws: Workspace, out: TextIO) -> None:
        self.ws = ws
        self.out = out
        self.targets: dict[int, Target] = {}
        self.messages: dict[int, tuple[str, str]] = {}
        self.lines = 0  # lines printed so far
        # Called once before the next line is printed (the REPL clears a waiting prompt with it).
        self.interrupt: Callable[[], None] | None = None
        self._numbers: dict[tuple[str, str], int] = {}
        self._target_numbers: dict[tuple[str, ...], int] = {}
        self._seen: dict[str, Seen] = {}

    def names(self) -> dict[str, str]:
        """Id → name for users and channels."""
        names = {u.id: u.name for u in self.ws.users.values()}
        names.update({c.id: c.name for c in self.ws.channels.values() if not c.is_im})
        return names

    def say(self, text: str) -> None:
        """Print a line."""
        if self.interrupt is not None:
            interrupt, self.interrupt = self.interrupt, None
            interrupt()
        self.out.write(text + "\n")
        self.out.flush()
        self.lines += 1

    def number_of(self, channel: str, ts: str) -> int:
        """The stable number of a message (given on first sight)."""
        key = (channel, ts)
        if key not in self._numbers:
            self._numbers[key] = len(self._numbers) + 1
            self.messages[self._numbers[key]] = key
        return self._numbers[key]

    def _target_number(self, key: tuple[str, ...]) -> int:
        if key not in self._target_numbers:
            self._target_numbers[key] = len(self._target_numbers) + 1
        return self._target_numbers[key]

    def _visible(self, user_id: str) -> Seen:
        state: Seen = {}
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
        return state

    def mark_seen(self, user_id: str, *, only_if_new: bool = False) -> None:
        """Remember what a user can see now as already shown."""
        if not (only_if_new and user_id in self._seen):
            self._seen[user_id] = self._visible(user_id)

    def show_changes(self, user_id: str, *, shown: Seen | None = None) -> Seen:
        """Print everything new or changed for a user since the last call, oldest first; items in `shown` (what was
        just printed for someone else) count as seen. Returns what was printed."""
        now = self._visible(user_id)
        seen = {**self._seen.get(user_id, {}), **(shown or {})}
        changed = [k for k, v in now.items() if seen.get(k) != v]
        self._seen[user_id] = now
        changed.sort(key=lambda k: (k.startswith("v|"), float(k.rsplit("|", 1)[1]) if k[0] in "me" else 0.0))
        for key in changed:
            kind, _, rest = key.partition("|")
            if kind == "m":
                cid, _, ts = rest.partition("|")
                self.show_message(self.ws.messages[cid][ts])
            elif kind == "e":
                cid, _, ts = rest.partition("|")
                eph = next(e for e in self.ws.ephemerals_for(user_id, cid) if e.ts == ts)
                # Ephemeral messages appear as coming from the app.
                self.show_dict({**eph.as_dict(), "user": self.ws.bot_user_id, "bot_id": self.ws.bot_id}, cid)
            elif kind == "v":
                self.show_view(view_json(self.ws, self.ws.views[rest]))
        return {k: now[k] for k in changed}

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
        """Print a message dict under its stable number, buttons numbered."""
        ts = str(msg.get("ts"))
        number = self.number_of(cid, ts)
        rendered = render_message(msg, names=self.names(), channel=cid, numbering=self._target_number)
        text = rendered.text
        parent = msg.get("thread_ts")
        if parent and parent != ts and (cid, str(parent)) in self._numbers:
            text = text.replace(f"in thread {parent}", f"in thread of ({self._numbers[(cid, str(parent))]})", 1)
        self.say(f"({number}) {self._label(cid)} · " + text)
        self._keep(rendered)

    def show_view(self, view: JSON) -> Rendered:
        """Print a modal or home view with numbered targets and fields."""
        rendered = render_view(view, names=self.names(), numbering=self._target_number)
        self.say(rendered.text)
        self._keep(rendered)
        return rendered

    def _keep(self, rendered: Rendered) -> None:
        for t in rendered.targets:
            self.targets[t.index] = t
