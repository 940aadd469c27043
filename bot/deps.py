"""What every handler needs, built once per app: settings, team configuration, database, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import Catalog, load_catalog
from bot.config import Settings
from storage.db import SessionFactory, create_engine, session_factory, session_scope


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


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

    def now(self) -> datetime:
        """The current time from the configured clock."""
        return self.clock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A database session that rolls back on error."""
        async with session_scope(self.sessions) as session:
            yield session

    async def close(self) -> None:
        """Release the database pool."""
        await self.engine.dispose()


def build_deps(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Deps:
    """Create the engine and load the team configuration (no network)."""
    engine = create_engine(settings.database_url)
    return Deps(settings=settings, catalog=load_catalog(settings.retro_config), engine=engine,
                sessions=session_factory(engine), clock=clock)
