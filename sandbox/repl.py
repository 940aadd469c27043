"""An interactive terminal for playing humans in the sandbox workspace."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from typing import Any, TextIO

from . import views
from .driver import SlackDriver
from .emulator import SlackEmulator
from .render import InputField, render_view
from .screen import Screen
from .shapes import view_json
from .state import SlackError

HELP = """\
  /retro <args>         run a slash command here as the current user
  <text>                post a message in the current channel
  as <user>: <line>     run one line as another user
  user <name>           switch user            #<channel>   switch channel
  thread <N|ts> <text>  reply in a thread      edit <N|ts> <text>   edit your message
  react <N|ts> :emoji:  add a reaction         pin <N|ts>           pin a message
  click <N> [@user|value]   click button N (or pick from menu N)
  submit field=value ...    submit the open modal (field = number, block_id or action_id)
  close                 close the open modal   modal / home          show modal / open App Home
  upload <name> <text>  share a text file      dm <text>             message the app directly
  channels | history [n] | who | help | quit"""


class Repl:
    """State of one REPL session: current user, channel and the last numbered targets."""

    def __init__(self, emulator: SlackEmulator, driver: SlackDriver, out: TextIO, user: str,
                 channel: str) -> None:
        self.emulator = emulator
        self.driver = driver
        self.ws = driver.ws
        self.screen = Screen(self.ws, out)
        self.user = driver.user(user).name
        self.channel = driver.channel(channel).id

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
            self.screen.mark_seen(self.driver.user(self.user).id, only_if_new=True)
            return True
        if re.fullmatch(r"#[\w-]+", line):
            self.channel = self.driver.channel(line).id
            self.screen.say(f"now in {line}")
            return True
        if word in ("channels", "history", "who", "modal"):
            self._show(word, rest, acting)
            return True
        acting_id = self.driver.user(acting).id
        self.screen.mark_seen(acting_id, only_if_new=True)
        await self._act(word, rest, line, acting)
        await self.emulator.drain()
        self.screen.show_changes(acting_id)
        return True

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
            self.screen.new_batch()
            count = int(rest) if rest.isdigit() else 10
            for msg in list(self.ws.messages[self.channel].values())[-count:]:
                self.screen.show_message(msg)
        elif word == "who":
            self.screen.say(f"you are {acting} in {self.screen.names().get(self.channel, self.channel)}")
        elif word == "modal":
            stack = views.open_modals(self.ws, uid)
            if not stack:
                self.screen.say("no modal open")
            else:
                self.screen.new_batch()
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
            self.screen.say(f"no button {ref}; numbers refer to the last output")
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


def _field(fields: list[InputField], key: str) -> InputField | None:
    if key.isdigit() and 0 < int(key) <= len(fields):
        return fields[int(key) - 1]
    wanted = key.lower()
    return next((f for f in fields if key in (f.block_id, f.action_id) or f.label.lower() == wanted), None)


async def run_repl(emulator: SlackEmulator, driver: SlackDriver, *, stdin: TextIO = sys.stdin,
                   stdout: TextIO = sys.stdout, default_user: str = "alice",
                   default_channel: str = "#general") -> None:
    """Read lines from stdin (without blocking the event loop) and act them out as workspace members."""
    repl = Repl(emulator, driver, stdout, default_user, default_channel)
    repl.screen.mark_seen(driver.user(repl.user).id)
    repl.screen.say(f"Sandbox Slack · you are {repl.user} in {default_channel} · type 'help'")
    loop = asyncio.get_running_loop()
    while True:
        stdout.write(f"{repl.user}@{repl.screen.names().get(repl.channel, repl.channel)}> ")
        stdout.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        try:
            if not await repl.execute(line):
                break
        except SlackError as err:
            repl.screen.say(f"error: {err.error} {err.extra or ''}".rstrip())
        except (LookupError, ValueError, TimeoutError) as err:
            repl.screen.say(f"error: {err}")
