"""What every handler needs, built once per app: settings, team configuration, database, clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog, load_catalog
from bot.config import Settings
from bot.ingest import IngestQueue
from bot.observability import Metrics
from bot.postmortem import template_environment
from storage.db import SessionFactory, create_engine, session_factory, session_scope


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
    clock: Callable[[], datetime] = utc_now
    bot_user_id: str | None = None
    workspace_url: dict[str, str] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    installation_store: Any = None  # slack_sdk's store in multi-workspace mode (kept untyped: no Slack here)
    ingest: IngestQueue = field(init=False)
    inflight: InFlight = field(default_factory=InFlight)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    templates: Environment = field(default_factory=template_environment)  # postmortem Jinja2, built once

    def __post_init__(self) -> None:
        self.ingest = IngestQueue(self.engine)

    def now(self) -> datetime:
        """The current time from the configured clock."""
        return self.clock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session that rolls back on error."""
        async with session_scope(self.sessions) as session:
            yield session

    async def close(self) -> None:
        """Finish queued ingestion, then release the database pool."""
        await self.ingest.close()
        for close in reversed(self.on_close):
            await close()
        self.on_close.clear()
        await self.engine.dispose()


def build_deps(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Deps:
    """Create the engine and load the team configuration (no network)."""
    engine = create_engine(settings.database_url)
    return Deps(settings=settings, catalog=load_catalog(settings.retro_config), engine=engine,
                sessions=session_factory(engine), clock=clock,
                templates=template_environment(settings.retro_templates_dir))
