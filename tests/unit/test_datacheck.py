"""Data checks: PSI and KS in pure Python, and a comparison that flags exactly the feature that drifted."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from bot.collectors import drift
from bot.collectors.datacheck import Snapshot, Thresholds, check, compare, markdown
from bot.collectors.tables import DataError, read_csv, read_table

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def test_ks_statistic_is_the_largest_cdf_gap() -> None:
    assert drift.ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5
    assert drift.ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert drift.ks_statistic([1, 2], [10, 20, 30]) == 1.0
    assert drift.ks_statistic([1, 1, 2, 2], [1, 2, 2, 2]) == 0.25
    assert math.isnan(drift.ks_statistic([], [1.0]))


def test_ks_pvalue_matches_the_kolmogorov_distribution() -> None:
    n = m = 2000
    en = math.sqrt(n * m / (n + m))
    d_at_5_percent = 1.358 / (en + 0.12 + 0.11 / en)  # the well-known 5% critical value of the distribution
    assert abs(drift.ks_pvalue(d_at_5_percent, n, m) - 0.05) < 0.001
    assert drift.ks_pvalue(0.0, n, m) == 1.0 and drift.ks_pvalue(0.5, n, m) < 1e-12
    assert drift.ks_pvalue(0.02, n, m) > drift.ks_pvalue(0.04, n, m) > drift.ks_pvalue(0.06, n, m)


def test_psi_by_the_formula() -> None:
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert drift.psi_from_counts([50, 50], [25, 75]) == pytest.approx(expected)
    assert drift.psi_from_counts([10, 10], [10, 10]) == 0.0
    assert drift.psi_from_counts([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1.0) * math.log(0.5) + (0.5 - drift.PSI_FLOOR) * math.log(0.5 / drift.PSI_FLOOR))


def test_psi_numeric_uses_baseline_deciles_and_survives_ties() -> None:
    base = [float(i) for i in range(1000)]
    assert drift.bin_edges(base) == pytest.approx([99.9 * k for k in range(1, 10)])
    assert drift.psi_numeric(base, base) == 0.0
    assert drift.psi_numeric([1.0] * 100, [1.0] * 50) == 0.0
    assert drift.psi_numeric(base, [v + 500 for v in base]) > 2


def test_psi_categorical_pools_rare_and_unseen_values() -> None:
    base = ["a"] * 50 + ["b"] * 50
    assert drift.psi_categorical(base, base) == 0.0
    assert drift.psi_categorical(base, ["a"] * 50 + ["c"] * 50) > 1
    many = [f"v{i}" for i in range(40)] * 5
    assert drift.psi_categorical(many, many, top=20) == 0.0


Row = dict[str, Any]


def rows(n: int, seed: int, **override: Callable[[random.Random], Any]) -> list[Row]:
    """Synthetic scoring traffic; `override` replaces one feature's generator."""
    rng = random.Random(seed)
    gens: dict[str, Callable[[random.Random], Any]] = {
        "amount": lambda r: round(r.lognormvariate(3.0, 0.6), 2),
        "age": lambda r: int(r.gauss(41, 12)),
        "score": lambda r: round(r.random(), 4),
        "country": lambda r: r.choices(["US", "GB", "DE", "FR", "BR"], [50, 20, 15, 10, 5])[0],
        "device": lambda r: r.choice(["ios", "android", "web"]),
    }
    gens.update(override)
    return [{"id": i, **{k: g(rng) for k, g in gens.items()}} for i in range(n)]


def to_csv(data: list[Row], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=list(data[0]), delimiter=delimiter, lineterminator="\n")
    out.writeheader()
    out.writerows(data)
    return buf.getvalue().encode()


def flagged(base: list[Row], cur: list[Row], **kw: Any) -> dict[str, list[str]]:
    report = compare(read_csv("base.csv", to_csv(base)), read_csv("cur.csv", to_csv(cur)), **kw)
    return {f["column"]: f["flags"] for f in report["features"] if f["flags"]}


def test_a_shifted_numeric_feature_is_flagged_and_nothing_else() -> None:
    base = rows(3000, seed=1)
    cur = rows(3000, seed=2, amount=lambda r: round(r.lognormvariate(3.45, 0.6), 2))
    assert flagged(base, cur, key=["id"]) == {"amount": ["ks", "psi"]}
    assert flagged(base, rows(3000, seed=3), key=["id"]) == {}


def test_a_categorical_mix_change_is_flagged_by_psi() -> None:
    base = rows(3000, seed=4)
    cur = rows(3000, seed=5, country=lambda r: r.choices(["US", "GB", "DE", "FR", "BR"], [20, 20, 15, 10, 35])[0])
    assert flagged(base, cur, key=["id"]) == {"country": ["psi"]}


def test_a_rising_null_rate_is_flagged() -> None:
    base = rows(3000, seed=6)
    cur = rows(3000, seed=7, age=lambda r: "" if r.random() < 0.2 else int(r.gauss(41, 12)))
    assert flagged(base, cur, key=["id"]) == {"age": ["nulls"]}
    assert flagged(base, cur, key=["id"], thresholds=Thresholds(null_delta=0.5)) == {}


def test_schema_rows_types_and_key_matching() -> None:
    base = [{"id": 1, "a": 1, "b": "x", "gone": 1}, {"id": 2, "a": 2, "b": "y", "gone": 1},
            {"id": 3, "a": 3, "b": "z", "gone": 1}]
    cur = [{"id": 1, "a": "one", "b": "x", "new": 0}, {"id": 2, "a": "two", "b": "Y", "new": 0},
           {"id": 2, "a": "two", "b": "Y", "new": 0}, {"id": 4, "a": "four", "b": "w", "new": 0}]
    report = compare(read_csv("b.csv", to_csv(base)), read_csv("c.csv", to_csv(cur)), key=["id"])
    assert report["schema"] == {"added": ["new"], "removed": ["gone"],
                                "type_changed": [{"column": "a", "baseline": "numeric", "current": "categorical"}]}
    assert report["rows"] == {"baseline": 3, "current": 4, "change": pytest.approx(0.3333)}
    assert report["key"] == {"columns": ["id"], "duplicates_baseline": 0, "duplicates_current": 1, "matched": 2,
                             "only_baseline": 1, "only_current": 1, "changed_share": {"a": 1.0, "b": 0.5}}
    a = next(f for f in report["features"] if f["column"] == "a")
    assert "type" in a["flags"] and a["type"] == "numeric→categorical"
    with pytest.raises(DataError, match="Key column `nope` is not in b.csv"):
        compare(read_csv("b.csv", to_csv(base)), read_csv("c.csv", to_csv(cur)), key=["nope"])


def test_csv_reading_sniffs_delimiters_and_understands_nulls() -> None:
    data = "\ufeffid;amount;city\n1;3.5;Paris\n2;NA;\n3;4.5;Lyon;extra\n".encode()
    t = read_table("x.csv", data)
    assert list(t.columns) == ["id", "amount", "city"] and t.rows == 3 and t.ragged_rows == 1
    assert t.columns["amount"].numeric and t.columns["amount"].numbers == [3.5, 4.5] and t.columns["amount"].nulls == 1
    assert not t.columns["city"].numeric and t.columns["city"].nulls == 1
    with pytest.raises(DataError, match="empty"):
        read_table("e.csv", b"")
    with pytest.raises(DataError, match="looks binary"):
        read_table("b.bin", b"\x00\x01\x02garbage")


@pytest.mark.skipif(HAS_PYARROW, reason="checks the message shown when the parquet extra is missing")
def test_parquet_without_the_extra_says_how_to_install_it() -> None:
    with pytest.raises(DataError, match=r"pip install 'retro\[parquet\]'"):
        read_table("x.parquet", b"PAR1" + b"\x00" * 16 + b"PAR1")


@pytest.mark.skipif(not HAS_PYARROW, reason="the optional parquet extra (pyarrow) is not installed")
def test_parquet_is_read_when_the_extra_is_installed() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3], "amount": [1.5, None, 2.5], "city": ["a", "b", None]}), buf)
    t = read_table("x.parquet", buf.getvalue())
    assert t.format == "parquet" and t.rows == 3 and t.columns["amount"].numbers == [1.5, 2.5]
    assert t.columns["city"].nulls == 1


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_floats(v) for v in value)
    return True


def test_a_check_packages_json_and_markdown_with_digests() -> None:
    base = Snapshot("E1", "train.csv", to_csv(rows(2000, seed=8)), {"evidence": 1})
    cur = Snapshot("F0CUR", "today.csv", to_csv(rows(2000, seed=9, score=lambda r: round(r.random() ** 3, 4))),
                   {"file_id": "F0CUR"})
    out = check(base, cur, key=["id"], thresholds=Thresholds())
    report_json, report_md = out.files
    report = json.loads(report_json.data)
    assert report["flagged"] == ["score"] and report["inputs"]["baseline"]["sha256"] == base.sha256
    assert out.options == {"snapshot": f"today.csv@sha256:{cur.sha256}", "baseline": f"train.csv@sha256:{base.sha256}",
                           "key": "id"}
    assert out.metadata["flagged"][0]["column"] == "score" and _no_floats(out.metadata)
    md = report_md.data.decode()
    assert report_md.media_type == "text/markdown" and base.sha256 in md and "| `score` |" in md
    assert md == markdown(report, inputs=report["inputs"])
    assert out.summary.startswith("1 of 5 feature(s) flagged")
