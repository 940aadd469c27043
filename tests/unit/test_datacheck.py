"""Data checks: a comparison that flags exactly the feature that drifted, reading CSV and Parquet files, the limits on
what a check reads, and the worker process that runs it (the statistics: test_datacheck_stats.py)."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import math
import os
import random
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.collectors import comparison
from bot.collectors.columns import MAX_CELLS, MAX_COLUMNS, DataError, Limits, Table
from bot.collectors.comparison import Thresholds, compare, require_finite
from bot.collectors.datacheck import Snapshot, check, failure, markdown
from bot.collectors.tables import read_table as read_file
from bot.collectors.worker import NICE, Busy, Reason, Slots, WorkerError, run_bounded
from bot.config import Settings


def read_table(name: str, data: bytes, limits: Limits | None = None) -> Table:
    """Write `data` to a temporary file and read it as the worker does."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        return read_file(name, path, limits or Limits())


read_csv = read_table


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
    out = check(Snapshot("E1", "b.csv", to_csv(base), {}), Snapshot("E2", "c.csv", to_csv(cur), {}), key=["id"],
                thresholds=Thresholds())
    assert [(f["column"], f["ks"]) for f in out.metadata["flagged"]] == [("country", None)]


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
    assert report["rows"] == {"baseline": 3, "current": 4, "change": "0.333333"}
    assert report["key"] == {"columns": ["id"], "duplicates_baseline": 0, "duplicates_current": 1, "matched": 2,
                             "only_baseline": 1, "only_current": 1, "changed_share": {"a": "1", "b": "0.5"}}
    a = next(f for f in report["features"] if f["column"] == "a")
    assert "type" in a["flags"] and a["type"] == "numeric→categorical"
    with pytest.raises(DataError, match="Key column `nope` is not in b.csv"):
        compare(read_csv("b.csv", to_csv(base)), read_csv("c.csv", to_csv(cur)), key=["nope"])


def test_csv_reading_sniffs_delimiters_and_understands_nulls() -> None:
    data = "\ufeffid;amount;city\n1;3.5;Paris\n2;NA;\n3;4.5;Lyon;extra\n".encode()
    t = read_table("x.csv", data)
    assert list(t.columns) == ["id", "amount", "city"] and t.rows == 2 and t.ragged_rows == 1  # skipped, counted
    amount = t.columns["amount"]
    assert amount.numeric and amount.numbers().tolist() == [3.5] and amount.nulls == 1
    assert not t.columns["city"].numeric and t.columns["city"].nulls == 1
    with pytest.raises(DataError, match="empty"):
        read_table("e.csv", b"")
    gz = read_table("g.csv.gz", gzip.compress(b"a|b\n1|x\n2|y\n"))
    assert gz.rows == 2 and gz.columns["a"].numeric and gz.columns["b"].texts().to_pylist() == ["x", "y"]
    with pytest.raises(DataError, match="looks binary"):
        read_table("b.bin", b"\x00\x01\x02garbage")


def test_parquet_is_read_with_its_numbers_and_nulls() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3], "amount": [1.5, None, 2.5], "city": ["a", "b", None]}), buf)
    t = read_table("x.parquet", buf.getvalue())
    assert t.format == "parquet" and t.rows == 3 and t.columns["amount"].numbers().tolist() == [1.5, 2.5]
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
    report_json, report_md, *charts = out.files
    report = json.loads(report_json.data)
    assert [(c.name, c.media_type, c.data[:8]) for c in charts] == [
        ("datacheck-chart-01-score.png", "image/png", b"\x89PNG\r\n\x1a\n")]  # the one flagged feature's chart
    drawn = report["features"][0]
    assert drawn["column"] == "score" and drawn["histogram"]["kind"] == "numeric"
    assert [f for f in report["features"] if "histogram" in f] == [drawn]  # only flagged features get one
    assert report["flagged"] == ["score"] and report["inputs"]["baseline"]["sha256"] == base.sha256
    assert out.options == {"snapshot": f"today.csv@sha256:{cur.sha256}", "baseline": f"train.csv@sha256:{base.sha256}",
                           "key": "id"}
    assert out.metadata["flagged"][0]["column"] == "score" and _no_floats(out.metadata)
    md = report_md.data.decode()
    assert report_md.media_type == "text/markdown" and base.sha256 in md and "| `score` |" in md
    assert md == markdown(report, inputs=report["inputs"])
    assert out.summary.startswith("1 of 5 feature(s) flagged")


def ragged(columns: int, rows: int) -> bytes:
    """A header of `columns` names over `rows` rows of a single value each."""
    return (",".join(f"c{i}" for i in range(columns)) + "\n" + "1\n" * rows).encode()


def test_the_limits_default_to_the_settings_defaults() -> None:
    fields = Settings.model_fields
    assert (fields["retro_datacheck_max_columns"].default, fields["retro_datacheck_max_cells"].default) == (
        MAX_COLUMNS, MAX_CELLS) == (Limits().columns, Limits().cells)


def test_a_header_past_the_column_limit_is_refused_before_any_row_is_read() -> None:
    unreadable_body = b"\n" + b'"' + b"x" * 200_000 + b'"\n'  # past csv's field size limit, if it were ever read
    with pytest.raises(DataError, match=r"^wide.csv has 8,000 columns, more than the 1,000 a data check reads\. .*"
                                        r"RETRO_DATACHECK_MAX_COLUMNS"):
        read_table("wide.csv", ragged(8000, 40_000) + unreadable_body)
    assert list(read_table("ok.csv", full(1000, 3)).columns)[-1] == "c999"


def full(columns: int, rows: int) -> bytes:
    """A header of `columns` names over `rows` rows of ones."""
    return (",".join(f"c{i}" for i in range(columns)) + "\n" + (",".join("1" * columns) + "\n") * rows).encode()


def test_rows_are_counted_as_they_are_read_and_ragged_rows_are_skipped_and_counted() -> None:
    limits = Limits(columns=10, cells=100)
    assert read_csv("fits.csv", full(10, 10), limits).rows == 10
    unreadable_tail = b'"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(DataError, match=r"^tall.csv has more than the 100 cells a data check reads \(the limit is "
                                        r"passed at data row 11 of 10 columns\)\. .*RETRO_DATACHECK_MAX_CELLS"):
        read_csv("tall.csv", full(10, 11) + unreadable_tail, limits)
    spilt = read_csv("spill.csv", b"a,b\n1,2\n" + b"1,2,3,4,5,6,7,8,9,10,11\n" * 10 + b"3\n", limits)
    assert (spilt.rows, spilt.ragged_rows) == (1, 11)


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e309", "-1E400"])
def test_a_non_finite_number_in_a_numeric_column_is_refused_with_its_place(value: str) -> None:
    data = f"id,amount\n1,2.5\n2,{value}\n3,4\n".encode()
    with pytest.raises(DataError, match=rf"^x.csv, column `amount`, data row 2: `{value}` is not a finite number\."):
        read_csv("x.csv", data)
    words = read_csv("y.csv", b"id,label\n1,inf\n2,cat\n").columns["label"]
    assert not words.numeric and words.texts().to_pylist() == ["inf", "cat"]


def test_nan_is_a_missing_value_and_never_reaches_the_report() -> None:
    base = read_csv("b.csv", b"id,v\n1,1\n2,NaN\n3,-nan\n4,2\n")
    assert base.columns["v"].numbers().tolist() == [1.0, 2.0] and base.columns["v"].nulls == 2
    report = compare(base, read_csv("c.csv", b"id,v\n1,1\n2,2\n3,3\n4,nan\n"), key=["id"])
    json.dumps(report, allow_nan=False)
    v = report["features"][0]
    assert (v["null_rate_baseline"], v["null_rate_current"]) == ("0.5", "0.25") and "nulls" in v["flags"]


def test_values_near_the_float_range_give_finite_statistics() -> None:
    huge = [1e308, 1.5e308, -1.7e308, 1.7e308, 9e307] * 40
    data = ("id,x\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(huge))).encode()
    out = check(Snapshot("E1", "a.csv", data, {}), Snapshot("E2", "b.csv", data, {}), key=["id"],
                thresholds=Thresholds())
    x = json.loads(out.files[0].data)["features"][0]
    assert float(x["mean_baseline"]) == pytest.approx(sum(v / len(huge) for v in huge), rel=1e-5)
    assert (x["psi"], x["ks"], x["wasserstein"]) == ("0", "0", "0")


def test_a_report_holding_a_non_finite_number_is_refused() -> None:
    require_finite({"features": [{"column": "amount", "psi": 0.1, "ks": math.nan}], "rows": {"change": 0.5}})
    with pytest.raises(DataError, match=r"non-finite number \(report, features, column `amount`, psi\)"):
        require_finite({"features": [{"column": "amount", "psi": math.inf}]})


@pytest.mark.parametrize(("data", "message"), [
    (b"", r"^e.csv is empty \(0 bytes, no header and no rows\)\.$"),
    (b"\xef\xbb\xbf\n \n\n", r"^e.csv is empty \(7 bytes"),
    (b"id,amount\n", r"^e.csv has a header \(2 columns\) but no data rows: nothing to compare\.$"),
    (b"id;amount\n\n\n", r"^e.csv has a header \(2 columns\) but no data rows"),
])
def test_empty_inputs_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_table("e.csv", data)


def test_parquet_size_is_checked_from_its_footer_and_its_infinities_refused() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def parquet(table: Any) -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    wide = parquet(pa.table({f"c{i}": [1] for i in range(20)}))
    with pytest.raises(DataError, match="20 columns, more than the 10"):
        read_table("w.parquet", wide, Limits(columns=10))
    with pytest.raises(DataError, match=r"more than the 19 cells a data check reads \(20 columns × 1 rows\)"):
        read_table("w.parquet", wide, Limits(cells=19))
    bomb = io.BytesIO()  # 5 million zeros compress to a few kilobytes
    pq.write_table(pa.table({"x": pa.array([0] * 5_000_000, pa.int8())}), bomb, compression="zstd")
    with pytest.raises(DataError, match=r"more than the 2,000,000 cells .*\(1 columns × 5,000,000 rows\)"):
        read_table("bomb.parquet", bomb.getvalue(), Limits(cells=2_000_000))
    with pytest.raises(DataError, match="column `x`, data row 2: `inf` is not a finite number"):
        read_table("i.parquet", parquet(pa.table({"x": [1.0, math.inf, math.nan]})))
    with pytest.raises(DataError, match="but no data rows"):
        read_table("h.parquet", parquet(pa.table({"x": pa.array([], pa.float64())})))


async def test_the_worker_returns_the_functions_json_result_and_a_refusal_as_its_message(tmp_path: Path) -> None:
    data, empty = tmp_path / "a.csv", tmp_path / "e.csv"
    data.write_bytes(to_csv(rows(200, seed=3)))
    empty.write_bytes(b"")
    report = await run_bounded(comparison.report, (("a.csv", str(data)), ("b.csv", str(data)), ["id"], Thresholds(),
                                                   Limits()), memory_mb=512, timeout=30)
    assert report["rows"] == {"baseline": 200, "current": 200, "change": "0"} and report["flagged"] == []
    with pytest.raises(WorkerError, match="^e.csv is empty") as refused:
        await run_bounded(comparison.report, (("e.csv", str(empty)), ("b.csv", str(data)), [], Thresholds(),
                                              Limits()), memory_mb=512, timeout=30)
    assert refused.value.reason == "refused"


async def test_the_worker_is_stopped_at_its_memory_limit() -> None:
    with pytest.raises(WorkerError) as stopped:
        await run_bounded(bytearray, (512 * 1024 * 1024,), memory_mb=200, timeout=30)
    assert stopped.value.reason == "memory"
    assert await run_bounded(len, (bytes(8 * 1024 * 1024),), memory_mb=200, timeout=30) == 8 * 1024 * 1024


async def test_the_worker_is_killed_past_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[asyncio.subprocess.Process] = []
    spawn = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        spawned.append(await spawn(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    started = time.monotonic()
    with pytest.raises(WorkerError, match="longer than 0.5 s") as late:
        await run_bounded(time.sleep, (60,), memory_mb=0, timeout=0.5)
    assert late.value.reason == "timeout" and time.monotonic() - started < 10
    assert spawned[0].returncode == -signal.SIGKILL


async def test_a_worker_that_dies_is_an_error_not_a_result() -> None:
    with pytest.raises(WorkerError, match="killed by SIGABRT") as aborted:
        await run_bounded(os.abort, (), memory_mb=0, timeout=30)
    with pytest.raises(WorkerError, match="exit status 7") as exited:
        await run_bounded(os._exit, (7,), memory_mb=0, timeout=30)
    assert aborted.value.reason == exited.value.reason == "crashed"
    assert signal.SIGABRT.name in aborted.value.user_message


async def test_what_the_function_prints_cannot_spoil_its_answer() -> None:
    assert await run_bounded(print, ("chatter on stdout",), memory_mb=0, timeout=30) is None


async def test_a_worker_that_cannot_start_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/python3")
    with pytest.raises(WorkerError, match="could not start") as unstarted:
        await run_bounded(len, ("x",), memory_mb=0, timeout=30)
    assert unstarted.value.reason == "crashed"


async def test_the_worker_gets_none_of_the_bots_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-workers")
    monkeypatch.setenv("DATABASE_URL", "postgresql://retro:secret@db/retro")
    assert await run_bounded(os.getenv, ("SLACK_BOT_TOKEN",), memory_mb=0, timeout=30) is None
    assert await run_bounded(os.getenv, ("DATABASE_URL",), memory_mb=0, timeout=30) is None


async def test_the_worker_runs_at_a_lower_priority_than_the_bot() -> None:
    """A check that takes a core for a minute must not slow the bot's acknowledgements: the worker is niced."""
    assert await run_bounded(os.nice, (0,), memory_mb=0, timeout=30) == min(19, os.nice(0) + NICE)


@pytest.mark.parametrize(("reason", "says"), [
    ("memory", "more than the 64 MB of memory its worker may use, and was stopped. Compare smaller snapshots, or "
               "ask the operator to raise RETRO_DATACHECK_MAX_MEMORY_MB."),
    ("timeout", "took longer than 2.5 s, and was stopped. Compare smaller snapshots, or ask the operator to raise "
                "RETRO_DATACHECK_TIMEOUT."),
    ("crashed", "The data check's worker process failed (the worker was killed by SIGSEGV); nothing was compared."),
])
def test_a_failed_worker_is_told_with_the_limit_and_how_to_raise_it(reason: Reason, says: str) -> None:
    settings = Settings(retro_datacheck_max_memory_mb=64, retro_datacheck_timeout=2.5)
    message = {"crashed": "the worker was killed by SIGSEGV"}.get(reason, "")
    assert says in failure(WorkerError(reason, message), settings)


async def test_slots_run_a_few_at_a_time_and_queue_the_rest_in_order() -> None:
    slots = Slots(1, 2, busy="full")
    told: list[int] = []
    order: list[str] = []

    async def told_place(place: int) -> None:
        told.append(place)

    async def job(name: str, release: asyncio.Event) -> None:
        async with slots.turn(told_place):
            order.append(name)
            await release.wait()

    gates = {n: asyncio.Event() for n in "abc"}
    tasks = [asyncio.create_task(job(n, gates[n])) for n in "abc"]
    await asyncio.sleep(0.01)
    assert (order, told, slots.running, slots.waiting) == (["a"], [1, 2], 1, 2)
    with pytest.raises(Busy, match="full"):
        async with slots.turn(told_place):
            pass
    tasks[1].cancel()
    gates["a"].set()
    await asyncio.sleep(0.01)
    assert order == ["a", "c"] and slots.waiting == 0
    gates["c"].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert (slots.running, slots.waiting) == (0, 0)
