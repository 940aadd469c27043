"""The weeks after the demo's incident (demo_script.AFTER), played through the local Slack: verifying the fixes,
closing, saving the pattern, the recurrence three weeks later, the stats and the process audit.

The transcript quotes Retro's answers (the first `show` lines of what it said to the person or in the channel), so
the demo shows the loop rather than the typing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TextIO

from bot.app.demo_script import AFTER, After
from bot.app.local import LocalStack
from bot.errors import RetroError
from bot.ids import ActionId
from storage.models import Incident

_MARKUP = re.compile(r"<[@#!]?([^<>|]*)(?:\|([^<>]*))?>")
_CHANNEL_ID = re.compile(r"#([CG][A-Z0-9]{6,})\b")  # a channel link as the sandbox renders it
_MARKS = re.compile(r"[*`]|(?<!\w)_|_(?!\w)|:[a-z_]+: ?")
LINE_MAX = 150


class Clock(Protocol):
    """The demo's scripted clock."""

    def __call__(self) -> datetime: ...

    def advance(self, minutes: float) -> None:
        """Let some scripted time pass."""


class Speaker(Protocol):
    """What the weeks after need of the demo's player: its clock, mentions, and the transcript."""

    @property
    def clock(self) -> Clock:
        """The scripted clock."""

    def mention(self, name: str) -> str:
        """An escaped mention, as Slack sends it in a slash command."""

    def say(self, who: str, what: str) -> None:
        """One line of the transcript."""


class LoopError(RetroError):
    """A step of the weeks after did not do what the script expects."""


@dataclass
class LoopResult:
    """What the weeks after showed: every quoted line, by step, and the second incident's channel."""

    quoted: list[str] = field(default_factory=list)
    second: str = ""


def plain(text: str, names: dict[str, str]) -> str:
    """Slack text as a transcript line: people (`names`: id -> name) and channels by name, no formatting marks."""

    def sub(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if m.group(0).startswith("<@"):
            return "@" + names.get(target, label or target)
        if m.group(0).startswith("<#"):
            return "#" + names.get(target, label or target)
        return label or target

    text = _CHANNEL_ID.sub(lambda m: "#" + names.get(m.group(1), m.group(1)), _MARKUP.sub(sub, text))
    return _MARKS.sub("", text)


class LoopPlayer:
    """Plays the weeks after as the workspace's people, quoting Retro's answers."""

    def __init__(self, stack: LocalStack, player: Speaker, out: TextIO, first: Incident) -> None:
        self.stack, self.player, self.out = stack, player, out
        self.channels = {"first": first.channel_name, "general": "general", "second": ""}
        self.names = {stack.driver.user(n).id: n for n in ("alice", "bob", "carol", "dave", "erin")}
        self.result = LoopResult()
        self.day = player.clock().date()

    def quote(self, text: str, lines: int, pick: str = "") -> None:
        """The first `lines` non-empty lines of what Retro said (those matching `pick`, when given)."""
        names = {**self.names, **{c.id: c.name for c in self.stack.emulator.state.channels.values()}}
        shown = [plain(line, names).strip() for line in text.splitlines()]
        shown = [s for s in shown if s and (not pick or re.search(pick, s))]
        for line in list(dict.fromkeys(shown))[:lines]:
            line = line if len(line) <= LINE_MAX else line[:LINE_MAX - 1] + "…"
            self.result.quoted.append(line)
            print(f"  {'':5}  {'retro':<6} {line}", file=self.out)

    def _posted(self, channel: str, since: int) -> str:
        """What Retro posted in a channel since its `since`-th message: each message's text and its blocks' text."""
        out = []
        for m in self.stack.driver.bot_messages(channel)[since:]:
            out.append(str(m.get("text") or ""))
            for b in m.get("blocks") or []:
                out += [str(t.get("text") or "") for t in [b.get("text") or {}, *(b.get("elements") or [])]
                        if isinstance(t, dict)]
        return "\n".join(out)

    async def _click(self, user: str, channel: str, action_id: str, *, ephemeral: bool) -> None:
        drv = self.stack.driver
        found = (drv.ephemerals(user, channel) if ephemeral else drv.bot_messages(channel))
        found = [m for m in found if action_id in str(m.get("blocks"))]
        if not found:
            raise LoopError(f"no button {action_id} for {user} in #{channel}")
        value = None
        for block in found[-1].get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == action_id:
                    value = element.get("value")
        status = await drv.click(user, action_id=action_id, channel=channel, message_ts=str(found[-1]["ts"]),
                                 value=value)
        if status != 200:
            raise LoopError(f"clicking {action_id} was refused (HTTP {status})")
        await self.stack.settle()

    async def step(self, s: After) -> None:
        """Advance the clock, act, and quote what Retro answered."""
        self.player.clock.advance(s.minutes)
        if self.player.clock().date() != self.day:
            self.day = self.player.clock().date()
            print(f"\n  — {self.day:%A %d %B} —", file=self.out)
        names = {n: self.player.mention(n) for n in self.names.values()}
        text = s.text.format(**names)
        typed = s.text.format(**{n: "@" + n for n in names})
        channel = self.channels[s.where]
        before = len(self.stack.driver.bot_messages(channel)) if channel else 0
        if s.kind == "recurrence":
            self.player.say(s.user, "clicked Confirm recurrence")
            await self._click(s.user, channel, ActionId.RECURRENCE_CONFIRM, ephemeral=False)
            self.quote(self._posted(channel, 0), s.show, s.pick)
            return
        if s.kind == "say":
            await self.stack.driver.post(s.user, channel, text)
            self.player.say(s.user, text)
            return
        self.player.say(s.user, f"/retro {typed}")
        known = set(self.stack.emulator.state.channels)
        result = await self.stack.driver.command(s.user, channel, text)
        await self.stack.settle()
        if not result.ok:
            raise LoopError(f"`/retro {typed[:80]}` by {s.user} failed: {result.status}")
        reply = result.text()
        if s.kind == "close":
            self.quote(reply, s.show, s.pick)
            await self._click(s.user, channel, ActionId.CONFIRM_COMMAND, ephemeral=True)
            self.player.say(s.user, "clicked Close anyway")
            reply = self._posted(channel, before)
        if s.kind == "declare":
            created = [c for c in self.stack.emulator.state.channels.values() if c.id not in known]
            if len(created) != 1:
                raise LoopError("declaring the second incident did not create its channel")
            self.channels["second"] = self.result.second = created[0].name
            await self.stack.settle()
            reply = self._posted(created[0].name, 0)
        elif s.where != "general":
            reply = "\n".join(x for x in (reply, self._posted(channel, before)) if x)
        if "not available in this version" in reply:
            raise LoopError(f"`/retro {typed[:80]}`: {reply[:200]}")
        self.quote(reply, s.show if s.kind != "close" else 1, s.pick)


async def play_after(stack: LocalStack, player: Speaker, out: TextIO, first: Incident) -> LoopResult:
    """Play the weeks after the first incident."""
    loop = LoopPlayer(stack, player, out, first)
    print("\nThe weeks after:", file=out)
    for s in AFTER:
        await loop.step(s)
    return loop.result
