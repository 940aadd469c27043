"""`retro rerun`: run an incident's recorded analyses again, from an exported bundle or from the record."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app.offline import require_database
from bot.config import Settings
from bot.incident import evidence, incidents
from bot.insights import replay, rerun
from bot.insights.analyses import Analysis
from bot.postmortem import bundle_sources, export
from bot.postmortem.bundle_read import BundleError
from storage.db import create_engine, session_factory

_NUMBER = re.compile(r"^[Ee]?(\d{1,6})$")


def numbers_of(given: Sequence[str]) -> list[int] | None:
    """The evidence numbers asked for (`E5`, `5`), or None for every analysis."""
    found = []
    for word in given:
        m = _NUMBER.match(word.strip())
        if m is None:
            raise ValueError(f"`{word[:40]}` is not an evidence id like E5")
        found.append(int(m.group(1)))
    return found or None


def _missing(chosen: Sequence[Analysis], asked: list[int] | None) -> list[int]:
    return sorted(set(asked or []) - {a.number for a in chosen})


def _print(reruns: Sequence[rerun.Rerun], where: str) -> int:
    for r in reruns:
        print("\n".join(rerun.report_lines(r)))
    print(f"{rerun.tally(reruns)} run again from {where}")
    return rerun.exit_status(reruns)


async def rerun_command(settings: Settings, target: str, given: Sequence[str]) -> int:
    """Run the analyses of a bundle folder (offline where its inputs are in it; the bundle is verified first) or of
    an incident in the database; exit 0 all reproduced, 3 a source was unavailable, 4 something differs (or the
    bundle does not verify), 2 when nothing could be run."""
    try:
        asked = numbers_of(given)
    except ValueError as exc:
        print(f"retro: {exc}", file=sys.stderr)
        return 2
    sources: rerun.Sources
    failed: list[str] = []
    if Path(target).is_dir():
        try:
            doc, sources = export.open_bundle(Path(target))
            failed = [line for ok, line in export.verify_bundle(Path(target)).checks if not ok]
        except BundleError as exc:
            print(f"retro: {exc}", file=sys.stderr)
            return 2
        for line in failed[:5]:  # what was recorded no longer holds: whatever runs again, this bundle differs
            print(f"BAD  {line}")
        if failed:
            print(f"The bundle does not verify ({len(failed)} check(s) failed, `retro verify {target}`); its analyses "
                  "are run again all the same.")
        chosen = bundle_sources.analyses(doc, numbers=asked)
        where, total = f"the bundle {target}", len(bundle_sources.analyses(doc))
    else:
        await require_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                incident = await incidents.by_reference(session, target)
                rows = await evidence.listing(session, incident.id or 0)
        finally:
            await engine.dispose()
        chosen, total = rerun.analyses_of(rows, asked), len(rerun.analyses_of(rows))
        sources, where = rerun.StoreSources(settings, rows), f"the record of #{incident.channel_name}"
    if missing := _missing(chosen, asked):
        print(f"retro: {', '.join(f'E{n}' for n in missing)} records no analysis to run again (analyses: data "
              "checks, Prometheus ranges, MLflow lookups)", file=sys.stderr)
        return 2
    if not chosen:
        print(f"No analyses to run again in {where} ({total} recorded).")
        return 0
    status = _print(await replay.rerun_all(chosen, sources, settings), where)
    return max(status, rerun.EXIT[rerun.DIFFERS]) if failed else status
