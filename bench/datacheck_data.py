"""The data-check benchmark's inputs, generated from a seed: a baseline and a current snapshot of one table.

Numeric features of several shapes and categorical features with skewed frequencies; in the current snapshot one
numeric feature is shifted (`num_03`, by 0.5 standard deviations), one gets more nulls (`num_05`), one categorical
feature gains a category (`cat_01`), and every tenth numeric feature has about 1% nulls on both sides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CATEGORICAL = 6
SHIFTED, MORE_NULLS, NEW_CATEGORY = "num_03", "num_05", "cat_01"


def _numeric(rng: np.random.Generator, i: int, rows: int, *, current: bool) -> pa.Array:
    shape = i % 4
    if shape == 0:
        values = rng.normal(50.0, 10.0, rows)
    elif shape == 1:
        values = rng.lognormal(3.0, 0.6, rows)
    elif shape == 2:
        values = rng.exponential(2.0, rows)
    else:
        values = rng.integers(0, 1000, rows).astype(np.float64)
    name = f"num_{i:02d}"
    if current and name == SHIFTED:
        values = values + 0.5 * float(values.std())
    null_share = 0.08 if current and name == MORE_NULLS else (0.01 if i % 10 == 0 or name == MORE_NULLS else 0.0)
    mask = rng.random(rows) < null_share if null_share else None
    return pa.array(np.round(values, 4), mask=mask)


def _categorical(rng: np.random.Generator, i: int, rows: int, *, current: bool) -> pa.Array:
    size = 5 + 9 * i  # 5 to 50 categories
    weights = 1.0 / np.arange(1, size + 1) ** 1.1
    labels = [f"c{i}_{k:02d}" for k in range(size)]
    if current and f"cat_{i:02d}" == NEW_CATEGORY:
        labels.append(f"c{i}_new")
        weights = np.append(weights, weights.sum() * 0.05)
    codes = rng.choice(len(labels), size=rows, p=weights / weights.sum())
    return pc.take(pa.array(labels), pa.array(codes))


def table(rows: int, columns: int, seed: int, *, current: bool) -> pa.Table:
    """One snapshot: `columns - 6` numeric features, then 6 categorical ones."""
    rng = np.random.default_rng([seed, int(current)])
    numeric = columns - CATEGORICAL
    arrays = [_numeric(rng, i, rows, current=current) for i in range(numeric)]
    arrays += [_categorical(rng, i, rows, current=current) for i in range(CATEGORICAL)]
    names = [f"num_{i:02d}" for i in range(numeric)] + [f"cat_{i:02d}" for i in range(CATEGORICAL)]
    return pa.table(arrays, names=names)


def write_pair(folder: Path, fmt: str, rows: int, columns: int, seed: int = 16) -> tuple[Path, Path]:
    """Write baseline and current as `fmt` (csv or parquet) into `folder`; returns their paths."""
    paths = []
    for side in ("baseline", "current"):
        data = table(rows, columns, seed, current=side == "current")
        path = folder / f"{side}.{fmt}"
        if fmt == "csv":
            pacsv.write_csv(data, path)
        else:
            pq.write_table(data, path)
        paths.append(path)
        del data
    return paths[0], paths[1]
