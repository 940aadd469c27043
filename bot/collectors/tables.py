"""Data snapshots read with pyarrow into typed columns (bot/collectors/columns.py): CSV (`,` `;` tab `|`, gzip too) and
Parquet, from a file.

Reading is bounded by `Limits`: a header wider than the column limit is refused before any row is read; CSV rows are
read in blocks and counted as they come, Parquet's size is taken from its footer, so a table past the cell limit is
refused as soon as it is known.

A CSV is read first with pyarrow's own typing (numbers parsed as the blocks are read, null words in any case as
nulls), which is what a clean export needs; a column it types otherwise (dates, booleans) is read again as text, and
a file whose later blocks contradict the typing of its first, or which holds a number that is not finite, is read
again wholly as text: the text reading is the reference, the typed one only a shortcut to the same columns.
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from bot.collectors.columns import DEFAULT_LIMITS, NULLS, DataError, Limits, Table, build

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
DELIMITERS = (",", ";", "\t", "|")
BLOCK = 4 << 20  # bytes of CSV parsed at a time
_HEAD = 1 << 20  # the header line is looked for in this many bytes
# pyarrow matches null values exactly: every spelling of the null words in upper and lower case.
NULL_SPELLINGS = sorted({"".join(p) for w in NULLS for p in itertools.product(*({c.lower(), c.upper()} for c in w))})


class _AsText(Exception):
    """The typed reading cannot stand for the text reading of this file: read it as text."""


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


class _Csv:
    """One CSV file's layout: its name, path, delimiter, header and the limits it is read within."""

    def __init__(self, name: str, path: Path, limits: Limits) -> None:
        self.name, self.path, self.limits = name, path, limits
        header = _first_line(name, path).decode("utf-8", errors="replace")
        self.delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
        self.names = _header_names(header.encode() + b"\n", self._parse(None))
        limits.check_columns(name, len(self.names))

    def _parse(self, skip: Any) -> pcsv.ParseOptions:
        return pcsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True, ignore_empty_lines=True,
                                 invalid_row_handler=skip)

    def blocks(self, convert: pcsv.ConvertOptions) -> tuple[pa.Table, int]:
        """The rows, read block by block within the cell limit, and how many rows of another width were skipped."""
        ragged = 0

        def skip(_row: Any) -> str:
            nonlocal ragged
            ragged += 1
            return "skip"

        read = pcsv.ReadOptions(block_size=BLOCK, encoding="utf8", autogenerate_column_names=False)
        batches: list[pa.RecordBatch] = []
        rows = 0
        with _open(self.path) as stream, pcsv.open_csv(stream, read_options=read, parse_options=self._parse(skip),
                                                       convert_options=convert) as reader:
            for batch in reader:
                rows += batch.num_rows
                self.limits.check_cells(self.name, len(self.names), rows, so_far=True)
                batches.append(batch)
            schema = reader.schema
        return pa.Table.from_batches(batches, schema=schema), ragged

    def as_text(self, names: list[str]) -> tuple[pa.Table, int]:
        """Columns `names` (all when they are the header) as the text in the file, nothing taken for null."""
        return self.blocks(pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False,
            null_values=[], include_columns=[] if names == self.names else names))

    def typed(self) -> tuple[pa.Table, int]:
        """pyarrow's typing, with the columns it typed as neither numbers nor text read again as text."""
        try:
            table, ragged = self.blocks(pcsv.ConvertOptions(null_values=NULL_SPELLINGS, strings_can_be_null=True,
                                                            quoted_strings_can_be_null=True))
        except pa.ArrowInvalid:  # a later block does not fit the types of the first
            raise _AsText from None
        other = []
        for i, field in enumerate(table.schema):
            if pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
                if pa.types.is_floating(field.type) and not pc.all(pc.is_finite(table.column(i))).as_py():
                    raise _AsText  # said as written in the file
            elif not (pa.types.is_string(field.type) or pa.types.is_null(field.type)):
                other.append(i)
        if other:
            if len(set(self.names)) < len(self.names):
                raise _AsText
            text, _ = self.as_text([self.names[i] for i in other])
            for i in other:
                table = table.set_column(i, self.names[i], text.column(self.names[i]))
        return table, ragged


def read_csv(name: str, path: Path, limits: Limits = DEFAULT_LIMITS, *, typed: bool = True) -> Table:
    """A CSV with a header row, plain or gzip; the delimiter is the one among `,` `;` tab `|` the header uses most.
    Rows of another width than the header are skipped and counted (`ragged_rows`). `typed=False` reads every column
    as text first (what the typed reading falls back to)."""
    csv = _Csv(name, path, limits)
    try:
        try:
            if not typed:
                raise _AsText
            table, ragged = csv.typed()
        except _AsText:
            table, ragged = csv.as_text(csv.names)
    except pa.ArrowInvalid as exc:
        raise DataError(f"{name} is not a readable CSV: {str(exc)[:300]}") from None
    return build(name, "csv", table.rename_columns(csv.names), ragged)


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
