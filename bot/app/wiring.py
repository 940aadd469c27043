"""Building the process's dependencies from Settings: engine, team configuration, templates, ingest writer, data-check
workers, the alert intake's wake-up signal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.alerts.intake import AlertSignal
from bot.catalog import load_catalog
from bot.config import Settings
from bot.deps import Deps, utc_now
from bot.postmortem.draft import template_environment
from bot.record.ingest import IngestQueue
from bot.slack.snapshots import check_workers
from storage.db import create_engine, session_factory


def build_deps(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Deps:
    """Create the engine, load the team configuration and templates, and start nothing (no network)."""
    engine = create_engine(settings.database_url)
    deps = Deps(settings=settings, catalog=load_catalog(settings.retro_config), engine=engine,
                sessions=session_factory(engine), templates=template_environment(settings.retro_templates_dir),
                clock=clock)
    deps.provide(IngestQueue(engine))
    deps.provide(AlertSignal())
    deps.provide(check_workers(settings))
    return deps
