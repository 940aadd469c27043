"""Data snapshots as columns: CSV with the standard library, Parquet when the optional `parquet` extra is installed."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from bot.errors import RetroError

NULLS = frozenset({"", "na", "n/a", "nan", "null", "none", "nil", "#n/a"})
PARQUET_MAGIC = b"PAR1"
DELIMITERS = (",", ";", "\t", "|")


class DataError(RetroError):
    """A data snapshot that cannot be read."""


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
        v = float(text.replace("_", "x"))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def build(name: str, fmt: str, headers: list[str], rows: list[list[Any]], ragged: int = 0) -> Table:
    """Type each column (numeric when every non-null value parses as a finite number) and count nulls."""
    cells: dict[str, list[str | None]] = {}
    columns: dict[str, Column] = {}
    for i, h in enumerate(headers):
        raw: list[str | None] = []
        for r in rows:
            v = r[i] if i < len(r) else None
            text = None if v is None else (str(v).strip() if not isinstance(v, float) or math.isfinite(v) else "")
            raw.append(None if text is None or text.lower() in NULLS else text)
        present = [v for v in raw if v is not None]
        parsed = [_number(v) for v in present]
        numeric = bool(present) and all(p is not None for p in parsed)
        col = Column(h, numeric, nulls=len(raw) - len(present))
        if numeric:
            col.numbers = [p for p in parsed if p is not None]
        else:
            col.texts = present
        columns[h], cells[h] = col, raw
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


def read_csv(name: str, data: bytes) -> Table:
    """A CSV with a header row; the delimiter is the one among `,` `;` tab and `|` the header uses most."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    header = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise DataError(f"{name} is not a readable CSV: {exc}") from None
    rows = [r for r in rows if r]
    if not rows:
        raise DataError(f"{name} is empty.")
    headers = _headers(rows[0])
    body = rows[1:]
    ragged = sum(1 for r in body if len(r) != len(headers))
    return build(name, "csv", headers, body, ragged)


def read_parquet(name: str, data: bytes) -> Table:
    """A Parquet file (needs `pip install 'retro[parquet]'`)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{name} is Parquet; reading it needs the optional extra: pip install 'retro[parquet]'.") \
            from None
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated exception types for bad files
        raise DataError(f"{name} is not a readable Parquet file: {exc}") from None
    headers = _headers([str(n) for n in table.column_names])
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return build(name, "parquet", headers, rows)


def read_table(name: str, data: bytes) -> Table:
    """CSV or Parquet, by content (Parquet files start and end with PAR1)."""
    if data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC:
        return read_parquet(name, data)
    if b"\x00" in data[:4096]:
        raise DataError(f"{name} looks binary; data checks read CSV (and Parquet with the `parquet` extra).")
    return read_csv(name, data)
