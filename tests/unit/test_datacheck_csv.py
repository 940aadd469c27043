"""Reading CSV snapshots: pyarrow's typed reading is only a shortcut, so on every kind of file it must give exactly
the columns of the text reading (`typed=False`), and a clean export must not need the text reading at all."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.collectors import tables
from bot.collectors.columns import DataError, Table
from bot.collectors.tables import NULL_SPELLINGS, read_csv

Cell = Callable[[random.Random], str]
MESSY: dict[str, Cell] = {
    "clean_float": lambda r: f"{r.gauss(0, 1):.5f}",
    "clean_int": lambda r: str(r.randint(-10**6, 10**6)),
    "int_like_float": lambda r: r.choice(["1", "2.0", "3e2", "+4", "-0", ".5", "6."]),
    "padded_number": lambda r: r.choice([" 1.5", "2 ", "3", "  4.25  "]),
    "null_words": lambda r: r.choice(["1", "NA", "n/a", "Null", "NONE", "nil", "#N/A", "", "NaN", "-nan", "2.5"]),
    "padded_null": lambda r: r.choice(["1", " NA ", "2"]),
    "text": lambda r: r.choice(["US", "GB", "de", "\"quoted, comma\"", "NA", "", "null", " spaced "]),
    "dates": lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "times": lambda r: f"2026-11-0{r.randint(1, 9)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:00",
    "booleans": lambda r: r.choice(["true", "false", "True", "FALSE"]),
    "zeros_ones": lambda r: r.choice(["0", "1"]),
    "all_null": lambda r: r.choice(["", "NA", "null"]),
    "zip_codes": lambda r: r.choice(["02139", "10001", "94105"]),
    "big_ints": lambda r: str(r.randint(10**19, 10**20)),
}


def write(tmp: Path, header: list[str], rows: list[list[str]], name: str = "x.csv") -> Path:
    path = tmp / name
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def same(a: Table, b: Table) -> None:
    assert (a.rows, a.ragged_rows, list(a.columns)) == (b.rows, b.ragged_rows, list(b.columns))
    for name, col in a.columns.items():
        other = b.columns[name]
        assert (name, col.numeric, col.nulls, col.values.type) == (name, other.numeric, other.nulls, other.values.type)
        assert col.values.to_pylist() == other.values.to_pylist(), name


@pytest.mark.parametrize("seed", range(6))
def test_the_typed_reading_gives_the_columns_of_the_text_reading(tmp_path: Path, seed: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    names = rng.sample(sorted(MESSY), k=rng.randint(3, len(MESSY)))
    rows = [[MESSY[n](rng) for n in names] for _ in range(rng.randint(1, 3000))]
    rows[rng.randrange(len(rows))].append("extra")  # one ragged row, skipped by both
    monkeypatch.setattr(tables, "BLOCK", rng.choice([1 << 10, 1 << 14, 4 << 20]))  # types may change between blocks
    path = write(tmp_path, names, rows)
    same(read_csv("x.csv", path), read_csv("x.csv", path, typed=False))


def test_a_later_block_that_contradicts_the_first_is_read_as_text(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "BLOCK", 1 << 10)
    rows = [[str(i), f"{i / 7:.3f}"] for i in range(400)] + [["401", "late text"]]
    t = read_csv("x.csv", write(tmp_path, ["id", "score"], rows))
    assert t.columns["id"].numeric and not t.columns["score"].numeric and t.columns["score"].values[-1].as_py() == \
        "late text"


def test_a_clean_export_is_read_without_the_text_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    rows = [[str(i), f"{rng.random():.4f}", rng.choice(["a", "b", "NA"]), rng.choice(["", "1.5"])] for i in range(500)]
    path = write(tmp_path, ["id", "score", "segment", "sparse"], rows)
    expected = read_csv("x.csv", path, typed=False)

    def refuse(*_: object) -> None:
        raise AssertionError("the text reading was used")

    monkeypatch.setattr(tables._Csv, "as_text", refuse)
    same(read_csv("x.csv", path), expected)
    assert expected.columns["sparse"].nulls == sum(1 for r in rows if not r[3])


@pytest.mark.parametrize("value", ["inf", "Infinity", "-1E400"])
def test_a_non_finite_number_is_named_as_written(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, ["id", "amount"], [["1", "2.5"], ["2", value]])
    with pytest.raises(DataError, match=rf"column `amount`, data row 2: `{value}` is not a finite number"):
        read_csv("x.csv", path)


def test_every_case_of_every_null_word_is_a_null_value() -> None:
    assert {"NA", "na", "Na", "nA", "NULL", "None", "nIl", "#N/a", "-NaN", ""} <= set(NULL_SPELLINGS)
    assert len(NULL_SPELLINGS) == len(set(NULL_SPELLINGS)) and "n" not in NULL_SPELLINGS
