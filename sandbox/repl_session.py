"""A REPL session: lines read from the terminal, acted out, and what arrives later printed as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from .driver import SlackDriver
from .emulator import SlackEmulator
from .repl import Repl
from .state import SlackError
from .terminal import Terminal

WATCH_EVERY = 0.1  # seconds between looks for results that arrive while the prompt waits


async def run_repl(emulator: SlackEmulator, driver: SlackDriver, *, stdin: TextIO = sys.stdin,
                   stdout: TextIO = sys.stdout, default_user: str = "alice", default_channel: str = "#general",
                   on_change: Callable[[], None] | None = None,
                   settle: Callable[[], Awaitable[None]] | None = None) -> None:
    """Read lines (without blocking the event loop) and act them out as workspace members; print what arrives later
    while the prompt waits. `on_change` runs after each line and after each late arrival (to keep state); `settle`
    is what a line waits for before its results are printed (Slack going quiet, unless told otherwise)."""
    repl = Repl(emulator, driver, stdout, default_user, default_channel, settle)
    terminal = Terminal(stdin, stdout, complete=repl.complete)
    repl.screen.mark_seen(repl.me())
    repl.screen.say(f"Sandbox Slack · you are {repl.user} in {default_channel} · type 'help'")
    for link in repl.web_lines():  # the web view's sign-in links (`web` prints them again)
        repl.screen.say(link)
    watcher = asyncio.create_task(_watch(repl, terminal, on_change), name="sandbox-repl-watch")
    try:
        while True:
            line = await terminal.read(repl.prompt())
            if line is None:
                break
            go_on = True
            async with repl.lock:
                try:
                    go_on = await repl.execute(line)
                except SlackError as err:
                    repl.screen.say(f"error: {err.error} {err.extra or ''}".rstrip())
                except (LookupError, ValueError, TimeoutError) as err:
                    repl.screen.say(f"error: {err}")
            if on_change is not None:
                on_change()
            if not go_on:
                break
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _watch(repl: Repl, terminal: Terminal, on_change: Callable[[], None] | None) -> None:
    """While the prompt waits, print whatever the app posts (a data check's result, a reminder) as it arrives."""
    last = None
    while True:
        await asyncio.sleep(WATCH_EVERY)
        stamp = repl.emulator.activity.last
        if stamp == last or not terminal.waiting or repl.lock.locked():
            continue
        last = stamp
        async with repl.lock:
            before = repl.screen.lines
            repl.screen.interrupt = terminal.clear_prompt
            try:
                repl.refresh()
            except (SlackError, LookupError) as err:
                repl.screen.say(f"error: {err}")
            finally:
                repl.screen.interrupt = None
            if repl.screen.lines != before:
                terminal.redraw_prompt(repl.prompt())
        if on_change is not None:
            on_change()
