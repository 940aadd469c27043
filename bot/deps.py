"""What every handler needs, built once per app: settings, team configuration, database, clock.

A leaf: it knows no concept of the domain. Process-wide services of the domain (the ingest writer) are handed in
by the wiring with `provide` and found again with `get`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog
from bot.config import Settings
from bot.observability import Metrics
from storage.db import SessionFactory, session_scope

T = TypeVar("T")
S = TypeVar("S", bound="Service")


class Service(Protocol):
    """A process-wide service of the domain: closed when the deps close."""

    async def close(self) -> None:
        """Finish or refuse outstanding work."""


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class InFlight:
    """Counts listener work still running after its ack (graceful shutdown and tests wait on it)."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        """Mark one unit of work as running."""
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True once nothing is running; False if the timeout passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class Deps:
    """Shared services handed to every handler through `register(app, deps)`."""

    settings: Settings
    catalog: Catalog
    engine: AsyncEngine
    sessions: SessionFactory
    templates: Environment  # the postmortem's Jinja2 environment, built once
    clock: Callable[[], datetime] = utc_now
    bot_user_id: str | None = None
    workspace_url: dict[str, str] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    installation_store: Any = None  # slack_sdk's store in multi-workspace mode (kept untyped: no Slack here)
    inflight: InFlight = field(default_factory=InFlight)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    services: dict[type[Any], Service] = field(default_factory=dict)

    def provide(self, service: S) -> S:
        """Hand a process-wide service to everyone holding these deps; it is closed first by `close()`."""
        self.services[type(service)] = service
        return service

    def get(self, kind: type[T]) -> T:
        """The service of this type that the wiring provided."""
        service = self.services.get(kind)
        if service is None:
            raise LookupError(f"no {kind.__name__} was provided to these deps")
        return service  # type: ignore[return-value]  # keyed by its own type in provide()

    def now(self) -> datetime:
        """The current time from the configured clock."""
        return self.clock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session that rolls back on error."""
        async with session_scope(self.sessions) as session:
            yield session

    async def close(self) -> None:
        """Close the services (the ingest writer finishes what is queued), then the rest, then the database pool."""
        for service in reversed(list(self.services.values())):
            await service.close()
        self.services.clear()
        for close in reversed(self.on_close):
            await close()
        self.on_close.clear()
        await self.engine.dispose()
