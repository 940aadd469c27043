"""Prometheus ranges, MLflow lookups and mitigation metric checks run again against real, live sources."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.local import local_stack
from bot.canonical import iso
from bot.collectors import prom_range
from bot.collectors.base import Artifact, Collected, CollectEnv, CollectRequest, bundle
from bot.collectors.mlflow import MlflowCollector
from bot.collectors.prometheus import PrometheusCollector
from bot.config import Settings
from bot.insights import analyses, replay, rerun, rerun_live
from bot.insights.analyses import Analysis
from storage.models import Evidence
from tests.e2e.helpers import declare, run, texts
from tests.e2e.servers import Gauge, mlflow_server, prometheus_server
from tests.e2e.test_collectors_mlflow import call, seed
from tests.e2e.test_collectors_prometheus import scraped

QUERY = 'retro_test_value{source="test"}'
SPAN = 5  # seconds of range: the gauge at 2, then at 4


class Kept:
    """The stored artifacts of evidence items, by number (nothing else kept)."""

    def __init__(self, artifacts: dict[int, bytes]) -> None:
        self.artifacts = artifacts

    def input_file(self, sha256: str) -> Path | None:
        """No kept inputs: live analyses read none."""
        return None

    def artifact(self, number: int) -> bytes | None:
        """The artifact of E<number>, if kept."""
        return self.artifacts.get(number)


@pytest.fixture(scope="module")
def prom() -> Iterator[tuple[str, Gauge]]:
    """Prometheus scraping the test's gauge every second."""
    with Gauge() as gauge, prometheus_server(gauge.port) as url:
        yield url, gauge


def analysis(number: int, collected: Collected) -> Analysis:
    """The analysis a collection recorded, read back as the evidence item would hold it."""
    assert collected.analysis is not None
    found = Analysis.of(number, {"analysis": json.loads(json.dumps(collected.analysis))})
    assert found is not None
    return found


async def collect_past_range(url: str, gauge: Gauge) -> tuple[Collected, datetime]:
    """The gauge at 2 then 4, and a range over both ending 2 s ago (data that no longer moves)."""
    gauge.value = 2.0
    await scraped(url, 2.0)
    await asyncio.sleep(3.0)
    gauge.value = 4.0
    await scraped(url, 4.0)
    await asyncio.sleep(4.0)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    request = CollectRequest("metric", QUERY, {"from": iso(end - timedelta(seconds=SPAN)) or "",
                                               "to": iso(end) or "", "step": "1s"})
    env = CollectEnv(settings=Settings(prometheus_url=url), now=datetime.now(UTC), requested_by="U1")
    return await PrometheusCollector().collect(request, env), end


async def test_a_past_range_reproduces_against_the_live_prometheus(prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    out, end = await collect_past_range(url, gauge)
    a = analysis(7, out)
    assert a.kind == analyses.PROMETHEUS and a.inputs == {"source": url}
    assert a.params == {"query": QUERY, "start": f"{(end - timedelta(seconds=SPAN)).timestamp():.3f}",
                        "end": f"{end.timestamp():.3f}", "step": "1"}
    raw = json.loads(zipfile.ZipFile(io.BytesIO(out.artifact().data)).read("prometheus-range.json"))
    assert a.output_sha256 == analyses.output_digest(prom_range.normalised(raw["data"]["result"]))

    gauge.value = 9.0  # what happens now is outside the recorded window
    await scraped(url, 9.0)
    settings = Settings(prometheus_url=url)
    (again,) = await replay.rerun_all([a], Kept({7: out.artifact().data}), settings)
    assert (again.outcome, again.detail, again.new_sha256) == (rerun.REPRODUCED, [], a.output_sha256)
    assert rerun.exit_status([again]) == 0
    values = [v for s in again.output for _, v in s["values"]]
    assert len(values) == SPAN + 1 and "2" in values and "4" in values and "9" not in values


def altered(artifact: bytes) -> bytes:
    """The recorded ZIP with its answer changed: the first sample dropped, the last one raised, a series added."""
    zf = zipfile.ZipFile(io.BytesIO(artifact))
    body = json.loads(zf.read("prometheus-range.json"))
    (series,) = body["data"]["result"]
    series["values"] = [*series["values"][1:-1], [series["values"][-1][0], "6.5"]]
    body["data"]["result"].append({"metric": {"__name__": "retro_test_value", "source": "gone"},
                                   "values": [[series["values"][0][0], "1"]]})
    files = tuple(Artifact(n, "application/octet-stream", json.dumps(body).encode() if n.endswith(".json")
                           else zf.read(n)) for n in zf.namelist())
    return bundle(files)


async def test_a_range_whose_recorded_answer_moved_differs_naming_the_figures(prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    out, _ = await collect_past_range(url, gauge)
    a = analysis(3, out)
    changed = altered(out.artifact().data)
    recorded = json.loads(zipfile.ZipFile(io.BytesIO(changed)).read("prometheus-range.json"))
    digest = analyses.output_digest(prom_range.normalised(recorded["data"]["result"]))
    moved = Analysis(a.number, a.kind, a.inputs, a.params, a.versions, digest)
    again = await rerun_live.prometheus(moved, Kept({3: changed}), Settings(prometheus_url=url))
    assert again.outcome == rerun.DIFFERS and again.recorded_sha256 == digest != again.new_sha256
    name = f'retro_test_value{{instance="127.0.0.1:{gauge.port}",job="retro-test",source="test"}}'
    assert 'series removed: retro_test_value{source="gone"}' in again.detail
    assert f"`{name}` samples: {SPAN} → {SPAN + 1} (+1)" in again.detail
    assert f"`{name}` last: 6.5 → 4 (-2.5)" in again.detail
    assert f"`{name}` max: 6.5 → 4 (-2.5)" in again.detail
    assert rerun.exit_status([again]) == 4

    # Without the recorded answer, the outcome still stands; the figures cannot be named.
    blind = await rerun_live.prometheus(moved, Kept({}), Settings(prometheus_url=url))
    assert blind.outcome == rerun.DIFFERS
    assert blind.detail[0] == "the recorded answer is not at hand to compare series by series"


class Failing:
    """An HTTP server that answers every request with 503."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"upstream down"
                self.send_response(503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


async def test_a_stopped_or_failing_prometheus_makes_the_range_unavailable_naming_it() -> None:
    with Gauge() as gauge:
        gauge.value = 1.0
        with prometheus_server(gauge.port) as url:
            await scraped(url, 1.0)
            out, _ = await collect_past_range(url, gauge)
        a = analysis(2, out)
        port = url.rsplit(":", 1)[1]
        secret_url = f"http://reader:s3cret@127.0.0.1:{port}"
        stopped = await rerun_live.prometheus(a, Kept({2: out.artifact().data}), Settings(prometheus_url=secret_url))
    assert stopped.outcome == rerun.UNAVAILABLE and stopped.new_sha256 is None
    (why,) = stopped.detail
    assert f"Prometheus at http://127.0.0.1:{port}: could not connect to 127.0.0.1:{port}" in why
    assert "s3cret" not in why and "reader" not in why
    failing = Failing()
    try:
        down = await rerun_live.prometheus(a, Kept({}), Settings(prometheus_url=failing.url))
    finally:
        failing.close()
    assert down.outcome == rerun.UNAVAILABLE
    assert down.detail == [f"Prometheus at {failing.url} did not answer with JSON (HTTP 503: upstream down)"]


@pytest.fixture(scope="module")
def mlflow() -> Iterator[tuple[str, dict[str, Any]]]:
    """A running tracking server with one registered model version (alias `champion`)."""
    with mlflow_server() as url:
        yield url, seed(url)


async def test_a_model_lookup_reproduces_then_differs_when_a_metric_moves_then_is_gone(
        mlflow: tuple[str, dict[str, Any]]) -> None:
    url, model = mlflow
    settings = Settings(mlflow_tracking_uri=url)
    env = CollectEnv(settings=settings, now=datetime.now(UTC), requested_by="U1")
    out = await MlflowCollector().collect(CollectRequest("model", f"{model['name']}@champion"), env)
    a = analysis(1, out)
    assert a.kind == analyses.MLFLOW and a.params == {}
    assert a.inputs == {"source": url, "uri": f"{model['name']}@champion", "model": model["name"],
                        "version": model["version"]}
    kept = Kept({1: out.artifact().data})

    # Moving the alias does not move the pinned facts: the version is asked for by number.
    call(url, "DELETE", "mlflow/registered-models/alias", {"name": model["name"], "alias": "champion"})
    same = await rerun_live.mlflow(a, kept, settings)
    assert same.outcome == rerun.REPRODUCED and same.new_sha256 == a.output_sha256
    assert same.output["params"] == {"learning_rate": "0.05", "max_depth": "6"}
    assert same.output["metrics"] == {"auc": "0.931", "precision": "0.88"}

    call(url, "POST", "mlflow/runs/log-metric", {"run_id": model["run_id"], "key": "auc", "value": 0.5,
                                                 "timestamp": 1_780_000_100_000, "step": 1})
    moved = await rerun_live.mlflow(a, kept, settings)
    assert moved.outcome == rerun.DIFFERS and moved.detail == ["metric `auc`: 0.931 → 0.5"]
    assert rerun.exit_status([same, moved]) == 4

    call(url, "DELETE", "mlflow/model-versions/delete", {"name": model["name"], "version": model["version"]})
    gone = await rerun_live.mlflow(a, kept, settings)
    assert gone.outcome == rerun.UNAVAILABLE
    assert gone.detail == [f"MLflow at {url} no longer has model {model['name']} version {model['version']} "
                           "(deleted, or the registry was replaced)"]


async def test_a_mitigation_check_pins_its_expectation_and_a_rerun_reports_the_verdict(
        sqlite_database_url: str, prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    gauge.value = 0.02
    await scraped(url, 0.02)
    await asyncio.sleep(3.5)
    async with local_stack(database_url=sqlite_database_url, env={"prometheus_url": url}) as stack:
        incident, _ = await declare(stack, "Reader errors")
        ch = f"#{incident.channel_name}"
        await run(stack, "alice", ch, 'action Pin the reader owner=@bob due=+3d kind=fix rollback="unpin it"')
        await run(stack, "bob", ch, f'check A1 stage=staging metric=`{QUERY}` expect="< 0.05" window=2s')
        said = texts(stack.driver.messages(ch))
        assert "*A1* passed *staging* (metric)" in said and "held `&lt; 0.05`" in said
        async with stack.deps.session() as s:
            (e1,) = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id)
                                  .order_by(col(Evidence.number)))).all()
    a = Analysis.of(e1.number, e1.custody)
    assert a is not None and a.kind == analyses.PROMETHEUS
    assert a.params["expect"] == "< 0.05" and a.params["query"] == QUERY and e1.options["expect"] == "< 0.05"
    assert e1.artifact is not None
    settings = Settings(prometheus_url=url)
    again = await rerun_live.prometheus(a, Kept({e1.number: e1.artifact}), settings)
    assert again.outcome == rerun.REPRODUCED
    assert again.detail == ["expect < 0.05: verdict pass, the same as recorded"]

    # Had the recorded answer broken the expectation, the re-run says the verdict changed.
    zf = zipfile.ZipFile(io.BytesIO(e1.artifact))
    body = json.loads(zf.read("prometheus-range.json"))
    body["data"]["result"][0]["values"][-1][1] = "0.09"
    broken = bundle(tuple(Artifact(n, "application/octet-stream", json.dumps(body).encode()
                                   if n == "prometheus-range.json" else zf.read(n)) for n in zf.namelist()))
    result = json.loads(zipfile.ZipFile(io.BytesIO(broken)).read("prometheus-range.json"))["data"]["result"]
    moved = Analysis(a.number, a.kind, a.inputs, a.params, a.versions,
                     analyses.output_digest(prom_range.normalised(result)))
    flipped = await rerun_live.prometheus(moved, Kept({e1.number: broken}), settings)
    assert flipped.outcome == rerun.DIFFERS
    assert flipped.detail[0] == "expect < 0.05: verdict now pass, recorded fail — the verdict changed"
    assert any(line.endswith("last: 0.09 → 0.02 (-0.07)") for line in flipped.detail)
