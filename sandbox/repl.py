"""An interactive terminal for playing humans in the sandbox workspace."""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from . import api_files, views
from .driver import SlackDriver
from .emulator import SlackEmulator
from .render import InputField, render_view
from .repl_lookup import channel_for, completions, new_app_channels, who_lines
from .screen import Screen
from .shapes import view_json

HELP = """\
  /retro <args>            run a slash command here as the current user; replies that come later are printed
                           when they arrive
  <text>                   post a message in the current channel (echoed as the channel shows it)
  as <user>: <line>        run one line as another user       user <name>   become another user
  #<channel>               switch channel; a unique prefix is enough (#inc); Tab completes #channels and @people
  thread <N> <text>        reply in the thread of message N   edit <N> <text>   edit your message N
  react <N> :emoji:        add a reaction to message N        pin <N>           pin message N
  click <B> [@user|value]  click button B (or pick from menu B)
  submit field=value ...   submit the open modal (field = number, block_id or label)
  modal | close            show / close the open modal
  home                     open the app's Home tab (shown only when you ask)
  upload <path> [comment]  upload a local file into this channel (e.g. CSVs for /retro datacheck)
  snippet <name> <text>    share a small text file holding <text>
  dm <text>                message the app directly
  web                      the web view's address and a sign-in link per person (Sign in with Slack)
  channels | history [n] | who | help | quit
  (N) is a message's number and [B …] a button's: both keep their number for the whole session.
  Declaring an incident takes you to its channel."""
WEB_CALLBACK = "/web/auth/callback"  # the web view's Sign in with Slack redirect URL, below the bot's address
_PATH_AND_REST = re.compile(r"""(?:"([^"]+)"|'([^']+)'|(\S+))\s*(.*)""", re.DOTALL)


class Repl:
    """State of one REPL session: current user and channel, stable numbers, channels already known."""

    def __init__(self, emulator: SlackEmulator, driver: SlackDriver, out: TextIO, user: str,
                 channel: str, settle: Callable[[], Awaitable[None]] | None = None) -> None:
        self.emulator = emulator
        # What a line waits for before its results are printed (the rest is printed when it arrives).
        self.settle = settle or emulator.drain
        self.driver = driver
        self.ws = driver.ws
        self.screen = Screen(self.ws, out)
        self.user = driver.user(user).name
        self.channel = driver.channel(channel).id
        self.lock = asyncio.Lock()  # one of the typed line and the watcher prints at a time
        # Channels that never move you: those of the session's start, and those followed or switched to since.
        self._followed = set(self.ws.channels)

    def me(self) -> str:
        """The id of the user the session types as."""
        return self.driver.user(self.user).id

    def prompt(self) -> str:
        """`alice@inc-…> `."""
        return f"{self.user}@{self.screen.names().get(self.channel, self.channel)}> "

    def complete(self, line: str, word: str) -> list[str]:
        """Tab completion: channels, people and commands."""
        return completions(self.ws, self.me(), line, word)

    def _msg_ts(self, ref: str) -> tuple[str, str]:
        if ref.isdigit() and int(ref) in self.screen.messages:
            return self.screen.messages[int(ref)]
        return self.channel, ref

    async def execute(self, line: str, user: str | None = None) -> bool:
        """Run one input line; returns False to quit."""
        line = line.strip()
        acting = user or self.user
        if not line:
            return True
        if m := re.fullmatch(r"as\s+@?(\S+?):\s*(.*)", line):
            return await self.execute(m.group(2), self.driver.user(m.group(1)).name)
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.screen.say(HELP)
            return True
        if word == "user" and rest:
            self.user = self.driver.user(rest).name
            self.screen.say(f"you are now {self.user}")
            self.screen.mark_seen(self.me(), only_if_new=True)
            return True
        if re.fullmatch(r"#[\w-]+", line):
            found = channel_for(self.ws, self.me(), line)
            self.channel = found.id
            self._followed.add(found.id)
            self.screen.say(f"now in #{found.name}")
            return True
        if word in ("channels", "history", "who", "modal", "web"):
            self._show(word, rest, acting)
            return True
        acting_id = self.driver.user(acting).id
        self.screen.mark_seen(acting_id, only_if_new=True)
        self.screen.mark_seen(self.me(), only_if_new=True)
        await self._act(word, rest, line, acting)
        await self.settle()
        shown = self.screen.show_changes(acting_id)
        if acting_id != self.me():
            self.screen.show_changes(self.me(), shown=shown)
        if word == "home":
            self._show_home(acting_id)
        self._follow_new_channel()
        return True

    def refresh(self) -> None:
        """Print what changed for the current user (results that arrived later) and follow a new incident."""
        self.screen.show_changes(self.me())
        self._follow_new_channel()

    def web_lines(self) -> list[str]:
        """The web view's address and one sign-in link per person; empty when the app has no web view callback."""
        client = self.emulator.oauth.client
        callback = next((u for u in (client.redirect_uris if client else []) if u.endswith(WEB_CALLBACK)), None)
        if callback is None:
            return []
        base = callback.removesuffix(WEB_CALLBACK)
        people = [u.name for u in self.ws.users.values() if not u.is_bot and not u.deleted]
        return [f"Web view: {base}/web/ (sign in with the sandbox's Slack; one link per person)",
                *(f"  {name:<10} {base}/web/auth/start?{urlencode({'login_hint': name})}" for name in people)]

    def _follow_new_channel(self) -> None:
        # Membership decides, not creation: the app creates the channel first and invites the person afterwards.
        fresh = new_app_channels(self.ws, self.me(), self._followed)
        self._followed.update(c.id for c in fresh)
        if fresh:
            self.channel = fresh[-1].id
            self.screen.say(f"now in #{fresh[-1].name} (the app opened it and added you; #general goes back)")

    def _show_home(self, user_id: str) -> None:
        home = self.ws.home_views.get(user_id)
        if home is None:
            self.screen.say("the app published no Home for you")
        else:
            self.screen.show_view(view_json(self.ws, self.ws.views[home]))

    def _show(self, word: str, rest: str, acting: str) -> None:
        uid = self.driver.user(acting).id
        if word == "channels":
            for ch in self.ws.channels.values():
                if ch.is_im or (ch.is_private and uid not in ch.members):
                    continue
                here = "*" if ch.id == self.channel else " "
                flags = here + ("member" if uid in ch.members else "      ")
                archived = " (archived)" if ch.is_archived else ""
                self.screen.say(f" {flags} #{ch.name} {ch.id}{archived}  {ch.topic.value}")
        elif word == "history":
            count = int(rest) if rest.isdigit() else 10
            for msg in list(self.ws.messages[self.channel].values())[-count:]:
                self.screen.show_message(msg)
        elif word == "who":
            self.screen.say(f"you are {acting} in {self.screen.names().get(self.channel, self.channel)}")
            for line in who_lines(self.ws, uid, self.channel):
                self.screen.say(line)
        elif word == "web":
            for line in self.web_lines() or ["no web view: the app has no Sign in with Slack redirect URL here"]:
                self.screen.say(line)
        elif word == "modal":
            stack = views.open_modals(self.ws, uid)
            if not stack:
                self.screen.say("no modal open")
            else:
                self.screen.show_view(view_json(self.ws, stack[-1]))

    async def _act(self, word: str, rest: str, line: str, acting: str) -> None:
        d = self.driver
        if word.startswith("/"):
            result = await d.command(acting, self.channel, rest, command=word)
            if not result.ok:
                self.screen.say(f"{word} failed: status={result.status} timed_out={result.timed_out}")
        elif word == "click" and rest:
            await self._click(rest, acting)
        elif word == "thread":
            ref, _, text = rest.partition(" ")
            cid, ts = self._msg_ts(ref)
            await d.post(acting, cid, text, thread_ts=ts)
        elif word == "edit":
            ref, _, text = rest.partition(" ")
            cid, ts = self._msg_ts(ref)
            await d.edit(acting, cid, ts, text)
        elif word == "react":
            ref, _, emoji = rest.partition(" ")
            cid, ts = self._msg_ts(ref)
            await d.react(acting, cid, ts, emoji.strip() or "eyes")
        elif word == "pin":
            cid, ts = self._msg_ts(rest)
            await d.pin(acting, cid, ts)
        elif word == "upload":
            path, comment = _path_and_rest(rest)
            await d.share_file(acting, self.channel, path.name, _read_local(path), text=comment)
        elif word == "snippet":
            name, _, text = rest.partition(" ")
            await d.share_file(acting, self.channel, name, text.encode())
        elif word == "dm":
            await d.dm(acting, rest)
        elif word == "home":
            await d.open_home(acting)
        elif word == "close":
            await d.close_view(acting)
        elif word == "submit":
            await self._submit(rest, acting)
        else:
            await d.post(acting, self.channel, line)

    async def _click(self, rest: str, acting: str) -> None:
        ref, _, arg = rest.partition(" ")
        target = self.screen.targets.get(int(ref)) if ref.isdigit() else None
        if target is None:
            self.screen.say(f"no button {ref}; buttons show their number as [B label]")
            return
        arg = arg.strip()
        value: Any = target.value
        if target.kind != "button":
            if not arg:
                choices = ", ".join(v for _, v in target.options) or "@user / #channel / value"
                self.screen.say(f"which one? click {ref} <{choices}>")
                return
            by_label = {label.lower(): v for label, v in target.options}
            value = by_label.get(arg.lower(), arg)
        await self.driver.click(acting, action_id=target.action_id, block_id=target.block_id,
                                channel=target.channel if target.view_id is None else None,
                                message_ts=target.message_ts, view_id=target.view_id, value=value)

    async def _submit(self, rest: str, acting: str) -> None:
        uid = self.driver.user(acting).id
        stack = views.open_modals(self.ws, uid)
        if not stack:
            self.screen.say("no modal open")
            return
        fields = render_view(view_json(self.ws, stack[-1])).fields
        values: dict[str, Any] = {}
        for token in shlex.split(rest):
            key, _, raw = token.partition("=")
            field = _field(fields, key)
            if field is None:
                self.screen.say(f"unknown field {key!r}; fields: {', '.join(f.block_id for f in fields)}")
                return
            by_label = {label.lower(): v for label, v in field.options}
            values[field.block_id] = {field.action_id: by_label.get(raw.lower(), raw)}
        status, body = await self.driver.submit_view(acting, stack[-1].id, values)
        if isinstance(body, dict) and body.get("response_action") == "errors":
            for block_id, error in (body.get("errors") or {}).items():
                self.screen.say(f"  ! {block_id}: {error}")
        elif status != 200:
            self.screen.say(f"submit failed: status={status}")


def _path_and_rest(rest: str) -> tuple[Path, str]:
    m = _PATH_AND_REST.fullmatch(rest.strip())
    if not rest.strip() or m is None:
        raise LookupError("upload what? upload <path> [comment]")
    return Path(m.group(1) or m.group(2) or m.group(3)).expanduser(), m.group(4).strip()


def _read_local(path: Path) -> bytes:
    """A local file's bytes, for an upload."""
    if not path.is_file():
        raise LookupError(f"no file at {path}")
    if path.stat().st_size > api_files.MAX_FILE_BYTES:
        raise LookupError(f"{path} is larger than the 1 GB Slack takes")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LookupError(f"cannot read {path}: {exc.strerror}") from None


def _field(fields: list[InputField], key: str) -> InputField | None:
    if key.isdigit() and 0 < int(key) <= len(fields):
        return fields[int(key) - 1]
    wanted = key.lower()
    return next((f for f in fields if key in (f.block_id, f.action_id) or f.label.lower() == wanted), None)
