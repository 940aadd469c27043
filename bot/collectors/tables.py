"""Data snapshots as typed columns, read with pyarrow: CSV (`,` `;` tab `|`, gzip too) and Parquet, from a file.

Reading is bounded by `Limits`: a header wider than the column limit is refused before any row is read; CSV rows are
read in blocks and counted as they come, Parquet's size is taken from its footer, so a table past the cell limit is
refused as soon as it is known. A column is numeric when every non-null value parses as a number.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from bot.errors import RetroError

NULLS = ("", "na", "n/a", "nan", "-nan", "+nan", "null", "none", "nil", "#n/a")
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 1000  # the defaults of RETRO_DATACHECK_MAX_COLUMNS and RETRO_DATACHECK_MAX_CELLS
MAX_CELLS = 50_000_000
BLOCK = 4 << 20  # bytes of CSV parsed at a time
_HEAD = 1 << 20  # the header line is looked for in this many bytes


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
    """Trim, turn null words into nulls, and make the column numeric when every remaining value is a finite number."""
    text = pc.utf8_trim_whitespace(raw.cast(pa.string()))
    text = pc.if_else(pc.is_in(pc.utf8_lower(text), pa.array(NULLS)), pa.scalar(None, pa.string()), text)
    nulls = text.null_count
    if nulls == len(text):
        return Column(header, False, text, nulls)
    try:
        numbers = pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return Column(header, False, text, nulls)
    return _finite(name, header, Column(header, True, numbers, nulls), text)


def _finite(name: str, header: str, col: Column, shown: pa.Array) -> Column:
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
    headers = _headers([str(n) for n in table.column_names])
    columns: dict[str, Column] = {}
    for h, chunked in zip(headers, table.columns, strict=True):
        raw = chunked.combine_chunks()
        if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type) or pa.types.is_decimal(raw.type):
            values = raw.cast(pa.float64())
            nan = pc.fill_null(pc.is_nan(values), False)
            values = pc.if_else(nan, pa.scalar(None, pa.float64()), values)
            columns[h] = _finite(name, h, Column(h, True, values, values.null_count), raw.cast(pa.string()))
        else:
            columns[h] = _typed(name, h, raw)
    return Table(name, fmt, table.num_rows, columns, ragged)


def _open(path: Path) -> Any:
    with path.open("rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    return pa.input_stream(str(path), compression="gzip" if gz else None)


def _first_line(name: str, path: Path) -> bytes:
    with _open(path) as stream:
        head = bytes(stream.read(_HEAD))
    text = head.lstrip(b"\xef\xbb\xbf").lstrip(b"\r\n \t")
    if not text.strip():
        raise DataError(f"{name} is empty ({path.stat().st_size:,} bytes, no header and no rows).")
    if b"\x00" in head[:4096]:
        raise DataError(f"{name} looks binary; data checks read CSV (plain or gzip) and Parquet.")
    end = text.find(b"\n")
    return text if end < 0 else text[:end]


def _header_names(line: bytes, parse: pcsv.ParseOptions) -> list[str]:
    auto = pcsv.ReadOptions(autogenerate_column_names=True)
    width = pcsv.read_csv(pa.py_buffer(line), read_options=auto, parse_options=parse).num_columns
    text = pcsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width)})
    row = pcsv.read_csv(pa.py_buffer(line), read_options=auto, parse_options=parse, convert_options=text)
    return [str(row.column(i)[0].as_py()) for i in range(width)]


def read_csv(name: str, path: Path, limits: Limits = DEFAULT_LIMITS) -> Table:
    """A CSV with a header row, plain or gzip; the delimiter is the one among `,` `;` tab `|` the header uses most.
    Rows of another width than the header are skipped and counted (`ragged_rows`)."""
    header = _first_line(name, path).decode("utf-8", errors="replace")
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True)
    names = _header_names(header.encode() + b"\n", parse)
    limits.check_columns(name, len(names))
    ragged = 0

    def skip(_row: Any) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True,
                              invalid_row_handler=skip)
    convert = pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                                  quoted_strings_can_be_null=False, null_values=[])
    read = pcsv.ReadOptions(block_size=BLOCK, encoding="utf8", autogenerate_column_names=False)
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        with _open(path) as stream, pcsv.open_csv(stream, read_options=read, parse_options=parse,
                                                  convert_options=convert) as reader:
            for batch in reader:
                rows += batch.num_rows
                limits.check_cells(name, len(names), rows, so_far=True)
                batches.append(batch)
            schema = reader.schema
    except pa.ArrowInvalid as exc:
        raise DataError(f"{name} is not a readable CSV: {str(exc)[:300]}") from None
    table = pa.Table.from_batches(batches, schema=schema)
    return build(name, "csv", table.rename_columns(names), ragged)


def read_parquet(name: str, path: Path, limits: Limits = DEFAULT_LIMITS) -> Table:
    """A Parquet file; its size is checked from the footer before any column is read."""
    try:
        parquet = pq.ParquetFile(str(path))
        meta = parquet.metadata
        width, rows = max(meta.num_columns, len(parquet.schema_arrow.names)), meta.num_rows
        limits.check_columns(name, width)
        limits.check_cells(name, width, rows, so_far=False)
        table = parquet.read()
    except (DataError, MemoryError):
        raise
    except Exception as exc:  # pyarrow raises several unrelated exception types for bad files
        raise DataError(f"{name} is not a readable Parquet file: {exc}") from None
    return build(name, "parquet", table)


def is_parquet(path: Path) -> bool:
    """Parquet files start and end with PAR1."""
    with path.open("rb") as f:
        start = f.read(4)
        if f.seek(0, 2) < 8:
            return False
        f.seek(-4, 2)
        return start == PARQUET_MAGIC and f.read(4) == PARQUET_MAGIC


def read_table(name: str, path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Table:
    """CSV (plain or gzip) or Parquet, by content, within `limits`."""
    path = Path(path)
    return read_parquet(name, path, limits) if is_parquet(path) else read_csv(name, path, limits)


def emptiness(name: str, path: Path | str) -> str | None:
    """Why a snapshot file holds nothing to compare (no bytes, blank, a header without rows), or None. Cheap: reads
    at most the footer or the first megabyte (after decompression), before any check is queued for a worker."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(_HEAD + 1)
    size = path.stat().st_size
    if head[:2] == GZIP_MAGIC:
        try:
            with gzip.open(path, "rb") as g:
                head = g.read(_HEAD + 1)
        except (OSError, EOFError):
            return None  # unreadable: the check says how
        size = len(head)
    whole = len(head) <= _HEAD  # the head is all there is
    if whole and not head.strip():
        return f"`{name}` is empty ({size:,} bytes: no header and no rows)"
    if is_parquet(path):
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # not readable: the check itself says why
            return None
        return f"`{name}` is a Parquet file with no rows" if rows == 0 else None
    if b"\x00" in head[:4096]:
        return None
    lines = [ln for ln in head[:_HEAD].lstrip(b"\xef\xbb\xbf").splitlines() if ln.strip()]
    if len(lines) == 1 and whole:
        header = lines[0].decode("utf-8", errors="replace")
        delimiter = max(DELIMITERS, key=header.count)
        return f"`{name}` has a header ({', '.join(c.strip() for c in header.split(delimiter))[:200]}) but no data rows"
    return None
