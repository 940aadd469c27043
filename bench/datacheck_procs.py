"""The two measured sides of the data-check benchmark, each run as its own process by bench/datacheck.py.

    python -m bench.datacheck_procs retro BASELINE CURRENT --cells N --memory-mb M
    python -m bench.datacheck_procs reference BASELINE CURRENT

`retro` streams both files into private files, hashing them (what the bot does as it downloads them), and runs
Retro's check as the bot does (`bot.collectors.datacheck.run_check`: a bounded worker process); `reference` computes
the same statistics with polars, numpy and scipy, written plainly. Each prints one JSON line: seconds, its own peak
RSS, and (retro) the peak RSS of the worker process it started.

Peaks are VmHWM from /proc/<pid>/status, not `ru_maxrss`: Linux carries a process's high-water mark
across exec, so a child's `ru_maxrss` is at least what its parent had resident when it forked. The worker's VmHWM
is sampled every 20 ms while it runs (it is gone once it exits), so growth in its last 20 ms may be missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

PSI_THRESHOLD, KS_THRESHOLD, NULL_DELTA = 0.2, 0.15, 0.05  # Retro's default thresholds (bot/config.py)
TOP = 20  # categorical PSI: the baseline's 20 most frequent values, the rest pooled (as Retro's report says)


def _hwm_mib(pid: int) -> float:
    # Not bench.common.memory_kib: importing bench.common loads the whole bot, which would count in the figures.
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((round(int(line.split()[1]) / 1024, 1) for line in f if line.startswith("VmHWM:")), 0.0)
    except OSError:  # exited meanwhile
        return 0.0


class ChildPeak(threading.Thread):
    """The largest VmHWM of this process's children, sampled until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.seen = 0.0, 0
        self._stop_at = threading.Event()

    def run(self) -> None:
        """Sample every 20 ms."""
        me = os.getpid()
        while not self._stop_at.wait(0.02):
            for task in os.listdir(f"/proc/{me}/task"):
                try:
                    with open(f"/proc/{me}/task/{task}/children") as f:
                        pids = [int(p) for p in f.read().split()]
                except FileNotFoundError:  # a thread of this process that ended meanwhile
                    continue
                self.seen = max(self.seen, len(pids))
                self.peak = max([self.peak, *(_hwm_mib(p) for p in pids)])

    def stop(self) -> float:
        """Stop sampling; the peak seen."""
        self._stop_at.set()
        self.join()
        return self.peak


def retro(base: Path, cur: Path, *, cells: int, memory_mb: int, timeout: float) -> dict[str, Any]:
    """Read both files and run Retro's check through its worker process; the flagged features and the figures."""
    from bot.collectors.columns import DataError
    from bot.collectors.comparison import Thresholds
    from bot.collectors.datacheck import Snapshot, run_check
    from bot.collectors.spool import Folder
    from bot.config import Settings

    settings = Settings(retro_datacheck_max_cells=cells, retro_datacheck_max_memory_mb=memory_mb,
                        retro_datacheck_timeout=timeout, retro_datacheck_max_bytes=1 << 40)
    before = _hwm_mib(os.getpid())
    sampler = ChildPeak()
    sampler.start()
    started = time.perf_counter()
    out: dict[str, Any] = {}
    with Folder() as folder:  # each file streamed into a private file and hashed, as the bot does with a download
        snaps = [Snapshot(p.name, p.name, folder.writer(cap=1 << 40, too_large="").copy(p), {"kind": "file"})
                 for p in (base, cur)]
        try:
            done = asyncio.run(run_check(snaps[0], snaps[1], key=[], thresholds=Thresholds(), settings=settings))
            out["flagged"] = sorted(f["column"] for f in done.metadata["flagged"])
        except DataError as exc:
            out["error"] = exc.user_message
    seconds = round(time.perf_counter() - started, 3)
    out.update(seconds=seconds, worker_peak_mib=sampler.stop(), bot_peak_mib=_hwm_mib(os.getpid()),
               bot_before_mib=before, workers_seen=sampler.seen,
               worker_ru_maxrss_mib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1))
    return out


def _psi(p: Any, q: Any) -> float:
    import numpy as np

    p, q = np.clip(p, 1e-6, None), np.clip(q, 1e-6, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _numeric(x: Any, y: Any) -> dict[str, float]:
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)[1:-1]))
    p = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / len(x)
    q = np.bincount(np.searchsorted(edges, y, side="right"), minlength=len(edges) + 1) / len(y)
    ks = stats.ks_2samp(x, y)
    return {"psi": _psi(p, q), "ks": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(x, y)), "js": float(jensenshannon(p, q, base=2))}


def _categorical(b: Any, c: Any) -> dict[str, Any]:
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    cb = dict(b.drop_nulls().value_counts().iter_rows())
    cc = dict(c.drop_nulls().value_counts().iter_rows())
    top = sorted(cb, key=lambda v: (-cb[v], v))[:TOP]
    nb = np.array([cb.get(v, 0) for v in top] + [sum(cb.values()) - sum(cb.get(v, 0) for v in top)], float)
    nc = np.array([cc.get(v, 0) for v in top] + [sum(cc.values()) - sum(cc.get(v, 0) for v in top)], float)
    kept = (nb + nc) > 0
    chi2 = stats.chi2_contingency(np.vstack([nb[kept], nc[kept]]))
    p, q = nb / nb.sum(), nc / nc.sum()
    return {"psi": _psi(p, q), "chi2": float(chi2.statistic), "chi2_pvalue": float(chi2.pvalue),
            "js": float(jensenshannon(p, q, base=2)), "new": sorted(set(cc) - set(cb)),
            "vanished": sorted(set(cb) - set(cc))}


def reference(base: Path, cur: Path) -> dict[str, Any]:
    """The same statistics as a data scientist would compute them with polars + numpy + scipy."""
    import polars as pl
    import scipy.spatial.distance
    import scipy.stats  # imported before the clock starts, as in a notebook that has them loaded

    del scipy
    started = time.perf_counter()
    read = pl.read_parquet if base.suffix == ".parquet" else pl.read_csv
    b, c = read(base), read(cur)
    features: dict[str, dict[str, Any]] = {}
    flagged = []
    for name in [n for n in b.columns if n in c.columns]:
        nb, nc = b[name].null_count() / b.height, c[name].null_count() / c.height
        if b[name].dtype.is_numeric() and c[name].dtype.is_numeric():
            stats = _numeric(b[name].drop_nulls().cast(pl.Float64).to_numpy(),
                             c[name].drop_nulls().cast(pl.Float64).to_numpy())
        else:
            stats = _categorical(b[name].cast(pl.String), c[name].cast(pl.String))
        features[name] = {"null_rate_baseline": nb, "null_rate_current": nc, **stats}
        if (stats["psi"] >= PSI_THRESHOLD or stats.get("ks", 0.0) >= KS_THRESHOLD
                or abs(nc - nb) >= NULL_DELTA):
            flagged.append(name)
    return {"flagged": sorted(flagged), "rows": [b.height, c.height], "features": len(features),
            "seconds": round(time.perf_counter() - started, 3), "peak_mib": _hwm_mib(os.getpid())}


def main() -> int:
    """Run one side and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("side", choices=["retro", "reference"])
    p.add_argument("baseline", type=Path)
    p.add_argument("current", type=Path)
    p.add_argument("--cells", type=int, default=50_000_000)
    p.add_argument("--memory-mb", type=int, default=8192)
    p.add_argument("--timeout", type=float, default=1800.0)
    a = p.parse_args()
    if a.side == "retro":
        out = retro(a.baseline, a.current, cells=a.cells, memory_mb=a.memory_mb, timeout=a.timeout)
    else:
        out = reference(a.baseline, a.current)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
