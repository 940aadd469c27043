"""`retro demo`: the scripted ML incident played through the local Slack and the real bot, then exported.

Everything happens over signed HTTP exactly as in a workspace; only the clock is scripted, so the record reads
like the incident took its real hour and a half. The result is a verified bundle anyone can check offline.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlmodel import col, select

from bot.app.demo_loop import LoopResult, play_after
from bot.app.demo_script import DECLARE, IMPACT_START, SCRIPT, START, TRIAGE, Step
from bot.app.local import LocalStack, local_stack
from bot.config import Settings
from bot.errors import RetroError
from bot.incident import evidence
from bot.insights.pattern_use import incident_document
from bot.postmortem import bundle_sources, export
from bot.postmortem.draft import checked, latest_people
from storage.models import Incident, TimelineEntry

FAILED = (":warning:", ":x:", "not available in this version")


class DemoError(RetroError):
    """A scripted step did not do what the script expects."""


class ScriptClock:
    """The demo's clock: it moves only when the script says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, minutes: float) -> None:
        """Let some scripted time pass."""
        self.current += timedelta(minutes=minutes)


@dataclass
class DemoResult:
    """What the demo left behind."""

    folder: Path
    channel: str
    entries: int
    head: str
    verified: bool
    after: LoopResult | None = None


class Player:
    """Plays the script as the workspace's people."""

    def __init__(self, stack: LocalStack, clock: ScriptClock, out: TextIO) -> None:
        self.stack, self.clock, self.out = stack, clock, out
        self.channel = ""
        self.tagged: dict[str, str] = {}

    def mention(self, name: str) -> str:
        """An escaped mention, as Slack sends it in a slash command."""
        return f"<@{self.stack.driver.user(name).id}|{name}>"

    def say(self, who: str, what: str) -> None:
        """One line of the transcript."""
        print(f"  {self.clock():%H:%M}  {who:<6} {what}", file=self.out)

    async def command(self, user: str, channel: str, text: str) -> str:
        """Run `/retro <text>` and fail loudly if Retro refuses it."""
        result = await self.stack.driver.command(user, channel, text)
        await self.stack.settle()
        reply = result.text()
        if not result.ok or any(mark in reply for mark in FAILED):
            raise DemoError(f"`/retro {text[:80]}` by {user} failed: {reply or result.status}")
        return reply

    async def draft_outcome(self) -> str:
        """What the latest draft's record says (its version and the blameless check's findings)."""
        async with self.stack.deps.session() as session:
            entry = (await session.exec(select(TimelineEntry).where(TimelineEntry.kind == "postmortem_drafted")
                                        .order_by(col(TimelineEntry.id).desc()).limit(1))).first()
        if entry is None:
            raise DemoError("/retro postmortem recorded no draft")
        found = entry.data.get("blameless_findings", 0)
        return (f"draft v{entry.data.get('version')} posted with the timeline picture; the blameless check "
                f"flags {found} phrasing(s) to reconsider")

    async def step(self, s: Step) -> None:
        """Advance the clock, then act."""
        self.clock.advance(s.minutes)
        names = {n: self.mention(n) for n in ("alice", "bob", "carol", "dave", "erin")}
        text = s.text.format(**names)
        drv = self.stack.driver
        if s.kind == "cmd":
            await self.command(s.user, self.channel, text)
            self.say(s.user, f"/retro {s.text.format(**{n: '@' + n for n in names})}")
        elif s.kind in ("say", "reply"):
            parent = self.tagged.get(s.tag or "") if s.kind == "reply" else None
            ts = await drv.post(s.user, self.channel, text, thread_ts=parent)
            if s.tag and s.kind == "say":
                self.tagged[s.tag] = ts
            self.say(s.user, ("↳ " if parent else "") + text)
        elif s.kind == "pin":
            await drv.pin(s.user, self.channel, self.tagged[s.tag or ""])
            self.say(s.user, "pinned the message as a key event")
        elif s.kind == "triage":
            await self.command(s.user, self.channel, "triage")
            status, _ = await drv.submit_view(s.user, values={**TRIAGE, "impact_start": int(IMPACT_START.timestamp())})
            if status != 200:
                raise DemoError(f"the triage form was refused (HTTP {status})")
            self.say(s.user, "submitted the triage template")
        else:
            await self.command(s.user, self.channel, "postmortem")
            await self.stack.settle()
            self.say(s.user, f"/retro postmortem → {await self.draft_outcome()}")
        await self.stack.settle()


async def play(stack: LocalStack, clock: ScriptClock, out: TextIO) -> Incident:
    """Declare the incident and play every step of the script; returns the incident as recorded."""
    player = Player(stack, clock, out)
    before = set(stack.emulator.state.channels)
    await player.command("alice", "#general", DECLARE)
    created = [c for c in stack.emulator.state.channels.values() if c.id not in before]
    if len(created) != 1:
        raise DemoError("declaring the incident did not create its channel")
    player.channel = created[0].name
    player.say("alice", f"/retro {DECLARE}  → #{player.channel}")
    for s in SCRIPT:
        await player.step(s)
    async with stack.deps.session() as session:
        return (await session.exec(select(Incident).where(col(Incident.channel_name) == player.channel))).one()


async def export_bundle(stack: LocalStack, incident: Incident, folder: Path) -> DemoResult:
    """Write the incident's bundle and verify it offline."""
    async with stack.deps.session() as session:
        people = await latest_people(session, incident.id or 0)
        doc = await incident_document(session, incident, catalog=stack.deps.catalog, people=people)
        rows = await evidence.listing(session, incident.id or 0)
    doc = checked(stack.deps.templates, doc, stack.deps.catalog)  # the blameless findings travel in the bundle
    export.write_bundle(stack.deps.templates, doc, folder,
                        attached=bundle_sources.attachments(stack.deps.settings, doc, rows))
    report = export.verify_bundle(folder)
    inc = doc["incident"]
    return DemoResult(folder, inc["channel_name"], inc["entry_count"], inc["head_hash"], report.ok)


async def run_scripted(out_folder: Path, *, out: TextIO = sys.stdout, env: dict[str, str] | None = None,
                       database_url: str | None = None, after: bool = False) -> DemoResult:
    """Play the demo on a fresh local stack (a throwaway SQLite database unless told) and export it; with `after`,
    play the weeks after the incident too (demo_loop) before exporting."""
    clock = ScriptClock(START)
    async with local_stack(database_url=database_url, clock=clock, env=env) as stack:
        incident = await play(stack, clock, out)
        loop = await play_after(stack, Player(stack, clock, out), out, incident) if after else None
        if loop is not None:
            async with stack.deps.session() as session:
                incident = await session.get(Incident, incident.id, populate_existing=True) or incident
        result = await export_bundle(stack, incident, out_folder)
        result.after = loop
        return result


async def run_demo(settings: Settings, *, out: Path) -> int:
    """The `retro demo` command: play, export, verify, and say where everything is."""
    env = {"retro_templates_dir": str(settings.retro_templates_dir)} if settings.retro_templates_dir else None
    print(f"Retro demo: a fraud model's precision drops after a feature pipeline goes stale ({START:%Y-%m-%d}).\n")
    quiet = logging.getLogger("retro")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the local Slack's unrelated events are not news here
    try:
        result = await run_scripted(out, out=sys.stdout, env=env, after=True)  # stdout as it is now
    finally:
        quiet.setLevel(level)
    state = "verified" if result.verified else "written but did NOT verify"
    print(f"\nBundle of #{result.channel} {state}: {result.folder.resolve()}\n"
          f"  {result.entries} timeline entries, chain head {result.head}\n"
          f"  read {result.folder / export.POSTMORTEM}; check it with `retro verify {result.folder}` "
          f"and `retro render {result.folder} --check`")
    return 0 if result.verified else 1
