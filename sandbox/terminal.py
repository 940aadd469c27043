"""The REPL's terminal: lines read without blocking the event loop, editing and Tab completion on a real terminal,
and output that arrives while a prompt waits printed above it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TextIO

Completer = Callable[[str, str], list[str]]  # (whole line so far, word being completed) -> candidates
# Characters that end a word for completion; `#`, `@`, `-` and `_` belong to channel and user names.
WORD_BREAKS = " \t\n\"'`=:,;"


class Terminal:
    """Reads one line at a time in a daemon thread (an interrupted session never waits for the keyboard)."""

    def __init__(self, stdin: TextIO, stdout: TextIO, complete: Completer | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.prompt = ""
        self.waiting = False
        self.interactive = stdin is sys.stdin and stdout is sys.stdout and _isatty(stdin) and _isatty(stdout)
        self._readline: ModuleType | None = _setup_readline(complete) if self.interactive else None

    async def read(self, prompt: str) -> str | None:
        """The next line (None at end of input); a piped line is echoed after its prompt, as a transcript."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()
        self.prompt = prompt
        if not self.interactive:
            self.stdout.write(prompt)
            self.stdout.flush()

        def finish(line: str | None) -> None:
            if not done.done():
                done.set_result(line)

        def work() -> None:
            try:
                line: str | None = input(prompt) if self.interactive else (self.stdin.readline() or None)
            except (EOFError, OSError, ValueError):
                line = None
            with contextlib.suppress(RuntimeError):  # the loop is gone: the session already ended
                loop.call_soon_threadsafe(finish, line)

        self.waiting = True
        threading.Thread(target=work, name="sandbox-repl-input", daemon=True).start()
        try:
            line = await done
        finally:
            self.waiting = False
        if line is not None and not self.interactive:
            self.stdout.write(line if line.endswith("\n") else line + "\n")
            self.stdout.flush()
        return line

    def clear_prompt(self) -> None:
        """Make room above a waiting prompt for output that just arrived."""
        self.stdout.write("\r\x1b[K" if self.interactive else "\n")

    def redraw_prompt(self, prompt: str) -> None:
        """Show the prompt again after such output, with whatever was typed so far."""
        typed = self._readline.get_line_buffer() if self._readline is not None else ""
        self.stdout.write(prompt + typed)
        self.stdout.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _setup_readline(complete: Completer | None) -> ModuleType | None:
    try:
        import readline
    except ImportError:  # no GNU readline on this platform: plain input still works
        return None
    if complete is not None:
        def completer(word: str, state: int) -> str | None:
            found = complete(readline.get_line_buffer()[: readline.get_endidx()], word)
            return found[state] if state < len(found) else None

        readline.set_completer(completer)
        readline.set_completer_delims(WORD_BREAKS)
        readline.parse_and_bind("tab: complete")
    return readline
