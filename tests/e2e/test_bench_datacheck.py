"""`python -m bench --only datacheck` at a tiny size, so that the benchmark keeps working as the check changes.

Only what the run found is asserted (both sides flagged the planted drift, the bot's check finished, every note was
acknowledged), never its times: figures at this size mean nothing.
"""

from __future__ import annotations

import pytest

from bench import datacheck
from bench.table import rows_for

pytestmark = pytest.mark.slow
pytest.importorskip("polars", reason="the benchmark's reference computation needs polars: pip install 'polars>=1,<3'")

PLANTED = {"num_03", "num_05", "cat_01"}  # shifted, more nulls, a new category (bench/datacheck_data.py)


def test_the_datacheck_benchmark_runs_both_sides_and_the_notes_during_a_check() -> None:
    """Retro and the reference agree on the planted drift in CSV and Parquet; notes are acked while a check runs."""
    result = datacheck.run({"csv": (5_000, 19), "parquet": (6_000, 20)}, per_user=1)
    for fmt in ("csv", "parquet"):
        retro, reference = result[fmt]["retro"], result[fmt]["reference"]
        assert "error" not in retro, retro
        assert set(reference["flagged"]) >= PLANTED, reference
        assert retro["flagged"] == reference["flagged"], (fmt, retro, reference)
        assert retro["workers_seen"] == 1, "the check ran in its worker process, whose memory was sampled"
        assert retro["worker_peak_mib"] > 0 and reference["peak_mib"] > 0
    acks = result["acks"]
    assert acks["check_status"] == "ok"
    for mode in ("paced", "back_to_back"):
        assert acks["modes"][mode]["rounds"] >= 1 and acks["modes"][mode]["failed"] == 0, acks
    rows = rows_for("datacheck", result)
    assert [r.verdict for r in rows if r.verdict in ("ERROR", "FAILED", "DIFFERENT")] == []
