"""Running any recorded analysis again: the runner of each kind, and the loop over a list of them."""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import Settings
from bot.insights import rerun, rerun_live
from bot.insights.analyses import DATACHECK, Analysis
from bot.insights.rerun_outcome import Rerun, Runner, Sources


def runners() -> dict[str, Runner]:
    """The re-run of each kind of analysis."""
    return {DATACHECK: rerun.datacheck, **rerun_live.RUNNERS}


async def rerun_all(items: Iterable[Analysis], sources: Sources, settings: Settings) -> list[Rerun]:
    """Each analysis run again, one after the other (data checks are heavy; live sources are asked gently)."""
    table = runners()
    done = []
    for a in items:
        try:
            done.append(await table[a.kind](a, sources, settings))
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:  # a record from outside
            done.append(rerun.unavailable(a, f"the analysis record is malformed ({type(exc).__name__}); it cannot "
                                             "be run again"))
    return done
