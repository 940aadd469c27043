"""Pure functions run in a separate, short-lived process with a memory and a time limit, a few at a time.

The child is a fresh interpreter (spawned, never forked: a fork of the bot would inherit its event loop, threads
and open database connections). It loads one importable function and its arguments (the bot's own pickle), limits
its own address space and CPU time before the function reads any data, runs it and writes the result as JSON; the
bot never unpickles anything the child produces, so a child that read hostile data cannot hand back more than data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Literal

from bot.errors import CollectorError, RetroError

log = logging.getLogger("retro.collectors.worker")

MEMORY_EXIT = 3  # the child's exit status when it ran out of its address space
NICE = 10  # the child's scheduling priority: a long check yields the CPU to the bot acknowledging Slack's requests
MAX_OUTPUT = 64 * 1024 * 1024
_STDERR_TAIL = 4096
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "SYSTEMROOT")
# The address-space limit counts memory reserved, not used: pyarrow's mimalloc reserves 1 GiB arenas, glibc a 64 MiB
# arena per thread and OpenBLAS a buffer per core. These keep the reservations near what is used, so that the limit
# measures the data (docs/collectors.md: a check of two 300,000 × 19 CSVs reserves about 850 MB).
_ENV_SET = {"MIMALLOC_ARENA_RESERVE": "65536", "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1"}
_BOOT = "import json,sys;sys.path[:]=json.loads(sys.argv[1]);from bot.collectors.worker import child;child()"

Reason = Literal["refused", "memory", "timeout", "crashed"]


class WorkerError(CollectorError):
    """The function gave no result: it refused its input (`refused`), or the process hit a limit or died."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


class Busy(RetroError):
    """Every worker is in use and the queue is full."""


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    import resource  # POSIX only; imported here so that the bot itself still imports elsewhere

    os.nice(NICE)
    if memory_mb > 0:
        size = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def child() -> None:
    """The worker process: read (function, arguments), limit itself, write the function's result as JSON."""
    answer_to, sys.stdout = sys.stdout.buffer, sys.stderr  # whatever the function prints cannot spoil the answer
    # The bot's own pickle (a function and arguments such as file paths) is loaded before the limits, so that the
    # function's libraries are imported whole: OpenBLAS, for one, exits the process when an allocation fails while it
    # starts, where a later failure is a MemoryError. Untrusted data is only read by the function, under the limits.
    fn, args = pickle.load(sys.stdin.buffer)
    _limit(int(sys.argv[2]), int(sys.argv[3]))
    try:
        try:
            answer: dict[str, Any] = {"result": fn(*args)}
        except RetroError as exc:
            answer = {"refused": exc.user_message}
        out = json.dumps(answer, allow_nan=False, separators=(",", ":")).encode()
    except MemoryError:
        os._exit(MEMORY_EXIT)  # nothing more can be allocated safely, not even a traceback
    answer_to.write(out)
    answer_to.flush()


def _child_env() -> dict[str, str]:
    # The child reads untrusted data: it gets none of the bot's tokens, secrets or database URLs.
    return {**{k: v for k, v in os.environ.items() if k in _ENV_KEPT}, **_ENV_SET}


async def _read(stream: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(1 << 16):
        size += len(chunk)
        if size > cap:
            raise WorkerError("crashed", f"the worker's answer was larger than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _tail(stream: asyncio.StreamReader) -> bytes:
    kept = b""
    while chunk := await stream.read(1 << 16):
        kept = (kept + chunk)[-_STDERR_TAIL:]
    return kept


async def _feed(stream: asyncio.StreamWriter, payload: bytes) -> None:
    with suppress(BrokenPipeError, ConnectionResetError):  # the child may die before it has read everything
        stream.write(payload)
        await stream.drain()
        stream.close()
        await stream.wait_closed()


async def _exchange(proc: asyncio.subprocess.Process, payload: bytes, cap: int) -> tuple[bytes, bytes]:
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feed = asyncio.create_task(_feed(proc.stdin, payload))
    tail = asyncio.create_task(_tail(proc.stderr))
    try:
        out = await _read(proc.stdout, cap)
        await proc.wait()
        return out, await tail
    finally:
        for task in (feed, tail):
            task.cancel()
        await asyncio.gather(feed, tail, return_exceptions=True)


def _answer(code: int, out: bytes, err: bytes) -> Any:
    if code == MEMORY_EXIT:
        raise WorkerError("memory", "the worker ran out of the memory it may use")
    if code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGXCPU:
            raise WorkerError("timeout", "the worker used up the CPU time it may use")
        log.warning("worker killed by %s: %s", sig.name, err.decode(errors="replace"))
        raise WorkerError("crashed", f"the worker was killed by {sig.name}")
    try:
        answer = json.loads(out) if code == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ({"result", "refused"} & answer.keys()):
        log.warning("worker failed with exit status %s: %s", code, err.decode(errors="replace"))
        raise WorkerError("crashed", f"the worker stopped with exit status {code}")
    if "refused" in answer:
        raise WorkerError("refused", str(answer["refused"]))
    return answer["result"]


async def run_bounded(fn: Callable[..., Any], args: tuple[Any, ...], *, memory_mb: int, timeout: float,
                      max_output: int = MAX_OUTPUT) -> Any:
    """`fn(*args)` in a fresh process with at most `memory_mb` of address space (0: unlimited) and `timeout`
    seconds; returns its JSON result, or raises WorkerError (its RetroError's message when it refused)."""
    payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)  # fn must be importable by name
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), str(memory_mb), str(math.ceil(timeout) + 1),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=_child_env())
    except OSError as exc:  # no executable, no process slots left, …
        log.warning("could not start a worker: %s", exc)
        raise WorkerError("crashed", f"the worker could not start ({exc.strerror or exc})") from None
    try:
        async with asyncio.timeout(timeout):
            out, err = await _exchange(proc, payload, max_output)
    except TimeoutError:
        raise WorkerError("timeout", f"the worker took longer than {timeout:g} s and was stopped") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return _answer(proc.returncode, out, err)


class Slots:
    """At most `size` holders at a time; later ones wait in arrival order, at most `max_waiting` of them."""

    def __init__(self, size: int, max_waiting: int, *, busy: str) -> None:
        self.size, self.max_waiting, self.busy = size, max_waiting, busy
        self.running = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many wait for a slot."""
        return sum(1 for f in self._queue if not f.done())

    def _release(self) -> None:
        while self._queue:
            nxt = self._queue.popleft()
            if not nxt.done():
                nxt.set_result(None)  # the slot passes straight to the next in line
                return
        self.running -= 1

    async def _wait(self, on_wait: Callable[[int], Awaitable[None]]) -> None:
        if self.waiting >= self.max_waiting:
            raise Busy(self.busy)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            await on_wait(self.waiting)
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot it will not use: pass it on
            else:
                turn.cancel()
            raise

    @asynccontextmanager
    async def turn(self, on_wait: Callable[[int], Awaitable[None]]) -> AsyncIterator[None]:
        """Hold a slot; when none is free, `on_wait(place in line)` is awaited first and the caller waits."""
        if self.running < self.size and not self.waiting:
            self.running += 1
        else:
            await self._wait(on_wait)
        try:
            yield
        finally:
            self._release()

    async def close(self) -> None:
        """Nothing to release: a worker is stopped when the check awaiting it is cancelled."""
