"""The pinned form of Prometheus ranges and MLflow versions, and the lines a live re-run writes when they moved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.collectors import mlflow_facts, prom_range
from bot.config import Settings
from bot.insights import analyses, replay, rerun, rerun_live
from bot.insights.analyses import Analysis
from bot.insights.rerun_live import range_differences, verdict_line


class NoSources:
    """Nothing kept: no inputs, no artifacts."""

    def input_file(self, sha256: str) -> Path | None:
        """No kept input."""
        return None

    def artifact(self, number: int) -> bytes | None:
        """No stored artifact."""
        return None


def answer(result: list[dict[str, Any]]) -> bytes:
    """Prometheus's JSON answer to a range query with this matrix."""
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


A = {"metric": {"__name__": "errors", "job": "api"}, "values": [[1765000000, "0.01"], [1765000030.5, "0.02"]]}
B = {"metric": {"__name__": "errors", "job": "batch"}, "values": [[1765000000, "3"]]}
PARAMS = {"query": "errors", "start": "1765000000.000", "end": "1765000060.000", "step": "30"}


def test_the_matrix_is_normalised_with_times_and_values_as_text_and_series_in_label_order() -> None:
    out = prom_range.normalised([B, A])
    assert out == [{"metric": {"__name__": "errors", "job": "api"},
                    "values": [["1765000000.000", "0.01"], ["1765000030.500", "0.02"]]},
                   {"metric": {"__name__": "errors", "job": "batch"}, "values": [["1765000000.000", "3"]]}]
    assert prom_range.normalised([A, B]) == out
    hist = {"metric": {"job": "h"}, "histograms": [[1765000000, {"count": "2", "buckets": [[0, "0.5", "1", "2"]]}]]}
    (h,) = prom_range.normalised([hist])
    assert h == {"metric": {"job": "h"}, "values": [],
                 "histograms": [["1765000000.000", {"count": "2", "buckets": [["0", "0.5", "1", "2"]]}]]}
    analyses.output_digest(h)  # no float left: the digest refuses floats


def test_a_range_record_pins_the_parameters_as_sent_and_the_expectation_of_a_check() -> None:
    plain = prom_range.analysis_of("http://prom:9090", PARAMS, [A, B])
    assert plain["kind"] == analyses.PROMETHEUS and plain["inputs"] == {"source": "http://prom:9090"}
    assert plain["params"] == PARAMS
    assert plain["output_sha256"] == analyses.output_digest(prom_range.normalised([B, A]))
    checked = prom_range.analysis_of("http://prom:9090", {**PARAMS, "extra": "x"}, [A], expect="< 0.05")
    assert checked["params"] == {**PARAMS, "expect": "< 0.05"}
    assert checked["output_sha256"] != plain["output_sha256"]


def test_range_differences_name_series_added_and_removed_and_each_moved_figure() -> None:
    old = prom_range.normalised([A, B])
    moved_a = {**A, "values": [*A["values"], [1765000060, "0.09"]]}
    new_c = {"metric": {"__name__": "errors", "job": "cron"}, "values": [[1765000000, "1"]]}
    lines = range_differences(old, prom_range.normalised([moved_a, new_c]))
    assert 'series removed: errors{job="batch"}' in lines
    assert 'series added: errors{job="cron"} (1 samples)' in lines
    assert '`errors{job="api"}` samples: 2 → 3 (+1)' in lines
    assert '`errors{job="api"}` max: 0.02 → 0.09 (+0.07)' in lines
    assert '`errors{job="api"}` last: 0.02 → 0.09 (+0.07)' in lines
    assert not any("min" in line for line in lines)
    assert range_differences(old, old) == []
    assert range_differences(None, old) == ["the recorded answer is not at hand to compare series by series"]


def test_a_sample_changed_inside_the_range_is_counted_when_min_max_and_last_hold() -> None:
    three = {"metric": {"job": "x"}, "values": [[1, "1"], [2, "2"], [3, "3"]]}
    middle = {"metric": {"job": "x"}, "values": [[1, "1"], [2, "2.5"], [3, "3"]]}
    assert range_differences(prom_range.normalised([three]), prom_range.normalised([middle])) == [
        '`{job="x"}`: 1 sample(s) changed, min, max and last held']


def test_the_verdict_line_says_whether_pass_or_fail_is_the_same() -> None:
    low = answer([{"metric": {"job": "api"}, "values": [[1, "0.01"], [2, "0.02"]]}])
    high = answer([{"metric": {"job": "api"}, "values": [[1, "0.01"], [2, "0.09"]]}])
    assert verdict_line("< 0.05", low, low) == "expect < 0.05: verdict pass, the same as recorded"
    assert verdict_line("< 0.05", high, low) == "expect < 0.05: verdict now fail, recorded pass — the verdict changed"
    assert verdict_line("< 0.05", high, None) == ("expect < 0.05: verdict now fail (the recorded answer is not at "
                                                  "hand to compare)")
    assert "cannot be read" in verdict_line("about 5", low, low)


MV = {"name": "fraud", "version": "3", "run_id": "r1", "source": "runs:/r1/model", "creation_timestamp": 1780000000123,
      "aliases": ["champion"], "current_stage": "Production", "description": "edited later", "status": "READY"}
RUN = {"params": {"lr": "0.05", "depth": 6}, "metrics": {"auc": 0.931, "loss": 1}}


def test_model_facts_keep_what_does_not_move_and_numbers_as_text() -> None:
    pinned = mlflow_facts.facts(MV, RUN)
    assert pinned == {"name": "fraud", "version": "3", "run_id": "r1", "source": "runs:/r1/model", "model_id": None,
                      "created_ms": "1780000000123", "params": {"lr": "0.05", "depth": "6"},
                      "metrics": {"auc": "0.931", "loss": "1.0"}}
    moved_alias = {**MV, "aliases": [], "current_stage": "Archived", "description": "", "status": "PENDING"}
    assert mlflow_facts.facts(moved_alias, RUN) == pinned
    logged = mlflow_facts.facts({**MV, "source": "models:/m-abc123"}, None)
    assert logged["model_id"] == "m-abc123" and logged["params"] is None and logged["metrics"] is None
    record = mlflow_facts.analysis_of("http://mlflow:5000", "fraud@champion", pinned)
    assert record["inputs"] == {"source": "http://mlflow:5000", "uri": "fraud@champion", "model": "fraud",
                                "version": "3"}
    assert record["params"] == {} and record["output_sha256"] == analyses.output_digest(pinned)


def test_model_differences_name_each_changed_field_param_and_metric() -> None:
    old = mlflow_facts.facts(MV, RUN)
    new = mlflow_facts.facts({**MV, "source": "runs:/r1/model2"},
                             {"params": {"lr": "0.05"}, "metrics": {"auc": 0.5, "loss": 1, "f1": 0.7}})
    assert mlflow_facts.differences(old, new) == [
        "source: runs:/r1/model → runs:/r1/model2", "param `depth`: 6 → —", "metric `auc`: 0.931 → 0.5",
        "metric `f1`: — → 0.7"]
    assert mlflow_facts.differences(old, old) == []
    assert mlflow_facts.differences(None, new) == ["the recorded facts are not at hand to compare one by one"]


def _analysis(kind: str, inputs: dict[str, Any], params: dict[str, Any]) -> Analysis:
    found = Analysis.of(4, {"analysis": analyses.record(kind, inputs=inputs, params=params, output=[])})
    assert found is not None
    return found


async def test_an_unconfigured_source_is_unavailable_naming_where_the_analysis_came_from() -> None:
    assert set(replay.runners()) == {analyses.DATACHECK, analyses.PROMETHEUS, analyses.MLFLOW}
    prom = _analysis(analyses.PROMETHEUS, {"source": "http://prom.internal:9090"}, PARAMS)
    done = await rerun_live.prometheus(prom, NoSources(), Settings(prometheus_url=None))
    assert done.outcome == rerun.UNAVAILABLE and done.new_sha256 is None
    assert done.detail == ["Prometheus is not configured here (PROMETHEUS_URL is not set); the range came from "
                           "http://prom.internal:9090"]
    model = _analysis(analyses.MLFLOW, {"source": "http://mlflow.internal", "uri": "fraud@3", "model": "fraud",
                                        "version": "3"}, {})
    done = await rerun_live.mlflow(model, NoSources(), Settings(mlflow_tracking_uri=None))
    assert done.outcome == rerun.UNAVAILABLE and "MLFLOW_TRACKING_URI is not set" in done.detail[0]
    assert rerun.exit_status([done]) == 3


async def test_a_record_without_its_parameters_is_unavailable_not_an_error() -> None:
    prom = _analysis(analyses.PROMETHEUS, {"source": "http://prom"}, {"query": "up"})
    done = await rerun_live.prometheus(prom, NoSources(), Settings(prometheus_url="http://127.0.0.1:9"))
    assert done.outcome == rerun.UNAVAILABLE and "lacks its query parameters" in done.detail[0]
