"""A TCP relay in front of a database server that a test can take down and bring back.

The bot is pointed at the relay instead of the server, so "the database goes away" touches nothing but the bot's
own connections: `cut()` drops every open connection and stops listening (new connections are refused),
`restore()` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url


class DatabaseProxy:
    """Relays 127.0.0.1:<port> to the database server named in a URL."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self.upstream = (parsed.host or "127.0.0.1", parsed.port or 5432)
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def proxied_url(self) -> str:
        """The same database URL, through the relay."""
        return make_url(self.url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    @property
    def up(self) -> bool:
        """True while the relay accepts connections."""
        return self._server is not None

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        """The database goes away: refuse new connections and drop every open one mid-stream."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        """The database is back."""
        await self.start()

    async def close(self) -> None:
        """Stop relaying for good."""
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        pumps = [asyncio.create_task(self._pump(reader, up_writer)), asyncio.create_task(self._pump(up_reader, writer))]
        self._tasks.update(pumps)
        try:
            await asyncio.gather(*pumps)
        finally:
            self._tasks.difference_update(pumps)
            self._writers.difference_update((writer, up_writer))

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()
