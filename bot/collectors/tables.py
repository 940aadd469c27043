"""Data snapshots as columns: CSV with the standard library, Parquet when the optional `parquet` extra is installed.

Reading is bounded by `Limits`: a header wider than the column limit is refused before any row is read, and rows
are counted as they are read, so a table past the cell limit is refused as soon as it gets there.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from bot.errors import RetroError

NULLS = frozenset({"", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "nil", "#n/a"})
PARQUET_MAGIC = b"PAR1"
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 1000  # the defaults of RETRO_DATACHECK_MAX_COLUMNS and RETRO_DATACHECK_MAX_CELLS
MAX_CELLS = 2_000_000


class DataError(RetroError):
    """A data snapshot that cannot be read."""


@dataclass(frozen=True)
class Limits:
    """How much of one snapshot a check reads: columns, and cells (rows × columns; short rows count in full)."""

    columns: int = MAX_COLUMNS
    cells: int = MAX_CELLS

    def check_columns(self, name: str, count: int) -> None:
        """Refuse a header wider than the column limit."""
        if count > self.columns:
            raise DataError(f"{name} has {count:,} columns, more than the {self.columns:,} a data check reads. "
                            "Compare fewer columns, or ask the operator to raise RETRO_DATACHECK_MAX_COLUMNS.")

    def check_cells(self, name: str, cells: int, columns: int, rows: int, *, so_far: bool) -> None:
        """Refuse a table past the cell limit (`so_far`: counted while reading, at data row `rows`)."""
        if cells > self.cells:
            size = (f"the limit is passed at data row {rows:,} of {columns:,} columns" if so_far
                    else f"{columns:,} columns × {rows:,} rows")
            raise DataError(f"{name} has more than the {self.cells:,} cells a data check reads ({size}). Compare "
                            "a sample, or ask the operator to raise RETRO_DATACHECK_MAX_CELLS (and "
                            "RETRO_DATACHECK_MAX_MEMORY_MB with it).")


DEFAULT_LIMITS = Limits()


@dataclass
class Column:
    """One column: `numbers` when every non-null value is numeric, else `texts`; `nulls` counted apart."""

    name: str
    numeric: bool
    numbers: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    nulls: int = 0

    @property
    def kind(self) -> str:
        """`numeric` or `categorical`."""
        return "numeric" if self.numeric else "categorical"

    def values(self) -> list[str]:
        """Non-null values as text (numbers in a canonical form), for comparisons across kinds."""
        return [f"{v:.12g}" for v in self.numbers] if self.numeric else self.texts


@dataclass
class Table:
    """A parsed snapshot."""

    name: str
    format: str
    rows: int
    columns: dict[str, Column]
    cells: dict[str, list[str | None]]
    ragged_rows: int = 0


def _number(text: str) -> float | None:
    try:
        return float(text.replace("_", "x"))
    except ValueError:
        return None


def _cell(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):  # Parquet's NaN is a missing value, as in pandas
        return None
    text = str(v).strip()
    return None if text.lower() in NULLS else text


def _typed(name: str, header: str, raw: list[str | None]) -> Column:
    present = [v for v in raw if v is not None]
    parsed = [_number(v) for v in present]
    nulls = len(raw) - len(present)
    if not present or any(p is None for p in parsed):
        return Column(header, False, texts=present, nulls=nulls)
    numbers = [p for p in parsed if p is not None]
    if not all(map(math.isfinite, numbers)):
        bad = next(i for i, p in enumerate(numbers) if not math.isfinite(p))
        row = [i for i, v in enumerate(raw, start=1) if v is not None][bad]
        raise DataError(f"{name}, column `{header}`, data row {row:,}: `{present[bad][:40]}` is not a finite "
                        "number. A data check compares finite numbers; write a missing value as an empty cell, NA "
                        "or null.")
    return Column(header, True, numbers=numbers, nulls=nulls)


def build(name: str, fmt: str, headers: list[str], rows: list[list[Any]], ragged: int = 0) -> Table:
    """Type each column (numeric when every non-null value is a number, which must then be finite), count nulls."""
    if not rows:
        raise DataError(f"{name} has a header ({len(headers):,} columns) but no data rows: nothing to compare.")
    cells: dict[str, list[str | None]] = {}
    columns: dict[str, Column] = {}
    for i, h in enumerate(headers):
        raw = [_cell(r[i]) if i < len(r) else None for r in rows]
        columns[h], cells[h] = _typed(name, h, raw), raw
    return Table(name, fmt, len(rows), columns, cells, ragged)


def _headers(first: list[str]) -> list[str]:
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


def read_csv(name: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Table:
    """A CSV with a header row; the delimiter is the one among `,` `;` tab and `|` the header uses most."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text or text.isspace():
        raise DataError(f"{name} is empty ({len(data):,} bytes, no header and no rows).")
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    body: list[list[str]] = []
    try:
        first = next((r for r in reader if r), None)
        if first is None:
            raise DataError(f"{name} is empty ({len(data):,} bytes, no header and no rows).")
        limits.check_columns(name, len(first))
        width, cells, ragged = len(first), 0, 0
        for r in reader:
            if not r:
                continue
            cells += max(len(r), width)
            ragged += len(r) != width
            limits.check_cells(name, cells, width, len(body) + 1, so_far=True)
            body.append(r)
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV: {exc}") from None
    return build(name, "csv", _headers(first), body, ragged)


def read_parquet(name: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Table:
    """A Parquet file (needs `pip install 'retro[parquet]'`); its size is checked from the footer before reading."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{name} is Parquet; reading it needs the optional extra: pip install 'retro[parquet]'.") \
            from None
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        meta = parquet.metadata
        width, rows = max(meta.num_columns, len(parquet.schema_arrow.names)), meta.num_rows
        limits.check_columns(name, width)
        limits.check_cells(name, width * rows, width, rows, so_far=False)
        table = parquet.read()
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # pyarrow raises several unrelated exception types for bad files
        raise DataError(f"{name} is not a readable Parquet file: {exc}") from None
    headers = _headers([str(n) for n in table.column_names])
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows_read = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return build(name, "parquet", headers, rows_read)


def read_table(name: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Table:
    """CSV or Parquet, by content (Parquet files start and end with PAR1), within `limits`."""
    if data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC:
        return read_parquet(name, data, limits)
    if b"\x00" in data[:4096]:
        raise DataError(f"{name} looks binary; data checks read CSV (and Parquet with the `parquet` extra).")
    return read_csv(name, data, limits)


def _parquet_rows(data: bytes) -> int | None:
    """The rows a Parquet footer declares (None without the `parquet` extra, or when the footer is unreadable)."""
    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
    except Exception:  # no pyarrow, or not readable: the check itself says why
        return None


def emptiness(name: str, data: bytes) -> str | None:
    """Why a snapshot holds nothing to compare (no bytes, blank, a header without rows), or None. Cheap: reads at
    most the header and one row, before any check is queued for a worker."""
    if not data.strip():
        return f"`{name}` is empty ({len(data):,} bytes: no header and no rows)"
    if data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC:
        return f"`{name}` is a Parquet file with no rows" if _parquet_rows(data) == 0 else None
    if b"\x00" in data[:4096]:
        return None
    text = data[:1 << 20].decode("utf-8-sig", errors="replace")
    try:
        rows = list(islice((r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)), 2))
    except csv.Error:
        return None  # unreadable: the check says how
    if len(rows) == 1 and len(data) <= 1 << 20:
        return f"`{name}` has a header ({', '.join(c.strip() for c in rows[0])[:200]}) but no data rows"
    return None
