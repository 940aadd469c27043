"""A data snapshot as typed columns: what a check reads (`Limits`), each column numeric or categorical (`Column`),
and the whole snapshot (`Table`), built from a pyarrow table whatever file it came from (bot/collectors/tables.py).

A column is numeric when every non-null value is a finite number; null words (`NULLS`, any case, around spaces) and
empty cells are missing values, and so is NaN in a file that stores numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bot.errors import RetroError

NULLS = ("", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "nil", "#n/a")
MAX_COLUMNS = 1000  # the defaults of RETRO_DATACHECK_MAX_COLUMNS and RETRO_DATACHECK_MAX_CELLS
MAX_CELLS = 50_000_000


class DataError(RetroError):
    """A data snapshot that cannot be read."""


@dataclass(frozen=True)
class Limits:
    """How much of one snapshot a check reads: columns, and cells (rows × columns)."""

    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS

    def check_columns(self, name: str, count: int) -> None:
        """Refuse a header wider than the column limit."""
        if count > self.columns:
            raise DataError(f"{name} has {count:,} columns, more than the {self.columns:,} a data check reads. "
                            "Compare fewer columns, or ask the operator to raise RETRO_DATACHECK_MAX_COLUMNS.")

    def check_cells(self, name: str, columns: int, rows: int, *, so_far: bool) -> None:
        """Refuse a table past the cell limit (`so_far`: counted while reading, `rows` data rows read)."""
        if columns * rows > self.cells:
            size = (f"the limit is passed at data row {self.cells // columns + 1:,} of {columns:,} columns" if so_far
                    else f"{columns:,} columns × {rows:,} rows")
            raise DataError(f"{name} has more than the {self.cells:,} cells a data check reads ({size}). Compare "
                            "a sample, or ask the operator to raise RETRO_DATACHECK_MAX_CELLS (and "
                            "RETRO_DATACHECK_MAX_MEMORY_MB with it).")


DEFAULT_LIMITS = Limits()


@dataclass
class Column:
    """One column: `values` holds every row (nulls included) as float64 when numeric, else as strings."""

    name: str
    numeric: bool
    values: pa.Array
    nulls: int

    @property
    def kind(self) -> str:
        """`numeric` or `categorical`."""
        return "numeric" if self.numeric else "categorical"

    @property
    def present(self) -> int:
        """How many values are not null."""
        return len(self.values) - self.nulls

    def numbers(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The non-null values of a numeric column."""
        return np.asarray(self.values.drop_null().to_numpy(zero_copy_only=False), dtype=np.float64)

    def texts(self) -> pa.Array:
        """The non-null values as text (numbers in a canonical form), for comparisons across kinds."""
        return self.values.drop_null().cast(pa.string()) if self.numeric else self.values.drop_null()


@dataclass
class Table:
    """A read snapshot."""

    name: str
    format: str
    rows: int
    columns: dict[str, Column]
    ragged_rows: int = 0


def _headers(first: list[str]) -> list[str]:
    """Column names as given, a blank one named by its place, a repeated one numbered (`id`, `id_2`)."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(first):
        name = h.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 1)
        out.append(name)
    return out


def _typed(name: str, header: str, raw: pa.Array) -> Column:
    """Trim, turn null words into nulls, and make the column numeric when every remaining value is a finite number.
    Each distinct value is looked at once (the column dictionary-encoded), then the column is rebuilt from them."""
    encoded = pc.dictionary_encode(raw.cast(pa.string()))
    words = pc.utf8_trim_whitespace(encoded.dictionary)
    words = pc.if_else(pc.is_in(pc.utf8_lower(words), pa.array(NULLS)), pa.scalar(None, pa.string()), words)
    text = words.take(encoded.indices)
    nulls = text.null_count
    if nulls == len(text):
        return Column(header, False, text, nulls)
    try:
        numbers = pc.cast(words, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return Column(header, False, text, nulls)
    return _finite(name, header, Column(header, True, numbers.take(encoded.indices), nulls), text)


def _finite(name: str, header: str, col: Column, shown: pa.Array) -> Column:
    """The column, unless it holds an infinite number: refused, naming its row and its value as `shown`."""
    bad = pc.invert(pc.fill_null(pc.is_finite(col.values), True))
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        raise DataError(f"{name}, column `{header}`, data row {row + 1:,}: `{str(shown[row].as_py())[:40]}` is not a "
                        "finite number. A data check compares finite numbers; write a missing value as an empty cell, "
                        "NA or null.")
    return col


def build(name: str, fmt: str, table: pa.Table, ragged: int = 0) -> Table:
    """Type each column of a pyarrow table (Parquet numbers stay numbers; NaN is a missing value, as in pandas)."""
    if table.num_rows == 0:
        raise DataError(f"{name} has a header ({table.num_columns:,} columns) but no data rows: nothing to compare.")
    names = _headers([str(n) for n in table.column_names])
    columns: dict[str, Column] = {}
    for h, chunked in zip(names, table.columns, strict=True):
        raw = chunked.combine_chunks()
        if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
            values = raw.cast(pa.float64())
            if pa.types.is_floating(raw.type) and pc.any(pc.is_nan(values)).as_py():
                values = pc.if_else(pc.fill_null(pc.is_nan(values), False), pa.scalar(None, pa.float64()), values)
            columns[h] = _finite(name, h, Column(h, True, values, values.null_count), raw)
        else:
            columns[h] = _typed(name, h, raw)
    return Table(name, fmt, table.num_rows, columns, ragged)
