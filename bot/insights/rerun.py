"""Running recorded analyses again: each says *reproduced* (the same output digest), *differs* (which figures moved,
by how much) or *source unavailable* (an input or the live source cannot be had).

Data checks run offline from their kept inputs (the record's or the bundle's); Prometheus ranges and MLflow lookups
ask the live source again with the recorded parameters (bot/insights/rerun_live.py); bot/insights/replay.py runs any
of them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.collectors import artifacts, comparison
from bot.collectors.columns import Limits
from bot.collectors.comparison import Thresholds
from bot.collectors.worker import WorkerError, run_bounded
from bot.config import Settings
from bot.errors import RetroError
from bot.insights.analyses import Analysis
from bot.insights.rerun_outcome import DIFFERS as DIFFERS
from bot.insights.rerun_outcome import EXIT as EXIT
from bot.insights.rerun_outcome import MAX_DETAIL as MAX_DETAIL
from bot.insights.rerun_outcome import REPRODUCED as REPRODUCED
from bot.insights.rerun_outcome import UNAVAILABLE as UNAVAILABLE
from bot.insights.rerun_outcome import Rerun as Rerun
from bot.insights.rerun_outcome import Runner as Runner
from bot.insights.rerun_outcome import Sources as Sources
from bot.insights.rerun_outcome import json_member as json_member
from bot.insights.rerun_outcome import member as member
from bot.insights.rerun_outcome import outcome_of as outcome_of
from bot.insights.rerun_outcome import unavailable as unavailable
from storage.models import Evidence


class StoreSources:
    """The record as the source of re-runs: inputs kept in the artifacts folder, artifacts as stored, each checked
    against its recorded digest."""

    def __init__(self, settings: Settings, rows: Iterable[Evidence]) -> None:
        self.settings = settings
        self._rows = {row.number: row for row in rows}

    def input_file(self, sha256: str) -> Path | None:
        """Where the input kept as this digest is, when it is there."""
        try:
            path = artifacts.input_path(self.settings, sha256)
        except RetroError:
            return None
        return path if path.is_file() else None

    def artifact(self, number: int) -> bytes | None:
        """E<number>'s stored artifact, verified (None when it has none or it no longer matches)."""
        row = self._rows.get(number)
        try:
            return None if row is None else artifacts.load(self.settings, row)
        except RetroError:
            return None


def analyses_of(rows: Iterable[Evidence], numbers: Iterable[int] | None = None) -> list[Analysis]:
    """The analyses recorded by evidence rows (those numbered `numbers` only, when given)."""
    which = None if numbers is None else set(numbers)
    return [a for row in rows if row.status == "ok" and (which is None or row.number in which)
            if (a := Analysis.of(row.number, row.custody)) is not None]


def report_lines(r: Rerun) -> list[str]:
    """How a re-run reads in a terminal: a line for the outcome, then its detail indented."""
    digest = f" (sha256 {r.new_sha256})" if r.outcome == REPRODUCED else ""
    return [f"E{r.number} {r.kind}: {r.outcome}{digest}"] + [f"    {line}" for line in r.detail]


def tally(reruns: Iterable[Rerun]) -> str:
    """`3 analyses: 2 reproduced, 1 differs`."""
    done = list(reruns)
    counts = [f"{sum(r.outcome == o for r in done)} {o}" for o in (REPRODUCED, DIFFERS, UNAVAILABLE)
              if any(r.outcome == o for r in done)]
    return f"{len(done)} analys{'i' if len(done) == 1 else 'e'}s" + (f": {', '.join(counts)}" if counts else "")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _figure(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _moved(label: str, old: Any, new: Any) -> str | None:
    if old == new:
        return None
    a, b = _figure(old), _figure(new)
    if a is not None and b is not None:
        return f"{label}: {old} → {new} ({b - a:+.4g})"
    return f"{label}: {old if old is not None else '—'} → {new if new is not None else '—'}"


FIGURES = ("psi", "ks", "null_rate_baseline", "null_rate_current", "wasserstein", "js_distance", "chi2_pvalue",
           "ks_pvalue")


def datacheck_differences(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Which figures of a data check moved: rows, schema, flagged features, and each feature's statistics."""
    if not isinstance(old, dict):
        return ["the recorded report is not at hand to compare figure by figure"]
    lines = [line for side in ("baseline", "current")
             if (line := _moved(f"rows ({side})", (old.get("rows") or {}).get(side), new["rows"][side]))]
    if old.get("schema") != new["schema"]:
        lines.append("schema differences changed")
    if (line := _moved("flagged", ", ".join(old.get("flagged") or []) or "nothing",
                       ", ".join(new["flagged"]) or "nothing")):
        lines.append(line)
    before = {f.get("column"): f for f in old.get("features") or [] if isinstance(f, dict)}
    for f in new["features"]:
        was = before.get(f["column"])
        if was is None:
            lines.append(f"feature `{f['column']}`: not in the recorded report")
            continue
        lines += [line for k in FIGURES if (line := _moved(f"`{f['column']}` {k}", was.get(k), f.get(k)))]
    return lines


def _thresholds(params: dict[str, Any]) -> Thresholds:
    th = params.get("thresholds") or {}
    return Thresholds(psi=float(th["psi"]), ks=float(th["ks"]), null_delta=float(th["null_delta"]))


async def datacheck(a: Analysis, sources: Sources, settings: Settings) -> Rerun:
    """Compare the kept snapshots again, with the recorded key, thresholds and limits, in a bounded worker. A
    snapshot that no longer has its recorded digest is still compared, and the check then differs, saying so."""
    paths, changed = [], []
    for side in ("baseline", "current"):
        put = a.inputs.get(side) or {}
        name, sha = str(put.get("name", side)), str(put.get("sha256", ""))
        path = sources.input_file(sha)
        if path is None:
            return unavailable(a, f"the {side} snapshot {name} (SHA-256 {sha}) was not kept")
        if (now := await asyncio.to_thread(sha256_file, path)) != sha:
            changed.append(f"the {side} snapshot {name} is not the one compared: SHA-256 {now}, recorded {sha}")
        paths.append((name, str(path)))
    try:
        limits = Limits(columns=int(a.params["limits"]["columns"]), cells=int(a.params["limits"]["cells"]))
        args = (paths[0], paths[1], [str(k) for k in a.params.get("key") or []], _thresholds(a.params), limits)
    except (KeyError, TypeError, ValueError):
        return unavailable(a, "the analysis record lacks its parameters (key, thresholds, limits)")
    try:
        report = await run_bounded(comparison.report, args, memory_mb=settings.retro_datacheck_max_memory_mb,
                                   timeout=settings.retro_datacheck_timeout)
    except WorkerError as exc:
        return unavailable(a, f"the check could not run again: {exc.user_message}")
    old = json_member(sources.artifact(a.number), "datacheck-report.json")
    done = outcome_of(a, report, lambda: changed + datacheck_differences(old, report))
    if changed and done.outcome == REPRODUCED:  # same figures from other data is not the record reproduced
        return replace(done, outcome=DIFFERS, detail=[*changed, "the figures are the same"])
    return done


def exit_status(reruns: Iterable[Rerun]) -> int:
    """0 when everything reproduced, 3 when a source was unavailable, 4 when something differs (the worst wins)."""
    return max((EXIT[r.outcome] for r in reruns), default=0)
