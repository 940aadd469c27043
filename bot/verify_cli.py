"""`retro verify`: recompute a chain from the database (or check an exported bundle) and name the first bad entry."""

from __future__ import annotations

import sys
from pathlib import Path

from bot import chain, incidents
from bot.config import Settings
from storage.db import create_engine, session_factory


async def verify_database(settings: Settings, ref: str) -> int:
    """Exit 0 when the chain verifies, 1 (naming the first bad entry) when it does not."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await incidents.by_reference(session, ref)
            report = await chain.verify_incident(session, incident)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"OK #{incident.channel_name}: {report.count} entries, head {report.head}")
        return 0
    print(f"FAILED #{incident.channel_name}: entry {report.bad_seq}: {report.reason} "
          f"({report.count} entries verified before it)", file=sys.stdout)
    return 1


async def verify(settings: Settings, target: str) -> int:
    """An existing folder is checked as an exported bundle (offline); anything else names an incident."""
    if Path(target).is_dir():
        from bot.export_cli import verify_bundle

        return verify_bundle(Path(target))
    return await verify_database(settings, target)
