"""Someone at the REPL: types lines into a pipe, as a keyboard would, and reads what the terminal printed."""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import Callable
from typing import Any

from sandbox import SlackDriver, SlackEmulator, run_repl

PROMPT = re.compile(r"[\w.-]+@[^\s>]+> $")
WAIT = 30.0  # seconds a step may take before the test gives up (a deadline, not a measurement)


class Typist:
    """Runs `run_repl` on a pipe; each `type` waits until the line was acted on and the prompt is back."""

    def __init__(self, emulator: SlackEmulator, driver: SlackDriver, *, user: str = "alice",
                 on_change: Callable[[], None] | None = None, session: Callable[..., Any] = run_repl,
                 **session_kwargs: Any) -> None:
        read_end, self._write_end = os.pipe()
        self.stdin = os.fdopen(read_end, "r", encoding="utf-8")
        self.out = io.StringIO()
        self._task = asyncio.create_task(session(emulator, driver, stdin=self.stdin, stdout=self.out,
                                                 default_user=user, on_change=on_change, **session_kwargs))
        self._mark = 0

    @property
    def text(self) -> str:
        """Everything printed so far."""
        return self.out.getvalue()

    async def wait_for(self, needle: str, *, start: int = 0) -> int:
        """Wait until `needle` is printed (after offset `start`); returns where it starts."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while (at := self.text.find(needle, start)) < 0:
            assert not self._task.done(), self.text
            assert asyncio.get_running_loop().time() < deadline, f"{needle!r} never printed:\n{self.text}"
            await asyncio.sleep(0.01)
        return at

    async def prompt(self) -> None:
        """Wait until the REPL waits for a line again."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while not PROMPT.search(self.text[-200:]):
            assert not self._task.done(), self.text
            assert asyncio.get_running_loop().time() < deadline, f"no prompt:\n{self.text}"
            await asyncio.sleep(0.01)

    async def type(self, line: str) -> str:
        """Type a line; returns what was printed in answer (up to the next prompt)."""
        await self.prompt()
        start = len(self.text)
        os.write(self._write_end, (line + "\n").encode())
        echoed = await self.wait_for(f"{line}\n", start=start)
        await asyncio.sleep(0)  # let the line be acted on before looking for the prompt
        await self.prompt()
        answer = self.text[echoed + len(line) + 1:]
        return PROMPT.sub("", answer)

    async def close(self) -> str:
        """End the input (like Ctrl-D) and wait for the session to end; returns the whole transcript."""
        os.close(self._write_end)
        try:
            await asyncio.wait_for(self._task, WAIT)
        finally:
            self.stdin.close()
        return self.text
