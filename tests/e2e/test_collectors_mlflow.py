"""MLflow model registry evidence against a real tracking server (SQLite backend, proxied artifacts)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.collectors.base import CollectEnv, CollectRequest
from bot.collectors.mlflow import MlflowCollector
from bot.config import Settings
from bot.record import chain
from storage.models import Evidence, Incident
from tests.e2e.helpers import declare, entries, run
from tests.e2e.servers import mlflow_python, mlflow_server

GIT_COMMIT = "3f2c1ab9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"
ARTIFACTS = {"model/MLmodel": b"flavors:\n  python_function: {}\n", "model/model.pkl": b"\x80\x04fake-weights" * 10,
             "model/requirements.txt": b"scikit-learn==1.5.0\n", "eval/confusion.csv": b"tp,fp\n10,90\n"}


def call(base: str, method: str, path: str, payload: dict[str, Any] | None = None,
         params: dict[str, str] | None = None, data: bytes | None = None) -> dict[str, Any]:
    """One MLflow REST call (used to seed the server the way a training pipeline would)."""
    url = f"{base}/api/2.0/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    body = data if data is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw.strip() else {}


def seed(base: str) -> dict[str, Any]:
    """An experiment, a run with params, metrics, tags and a dataset input, artifacts, a registered version."""
    name = f"fraud-{uuid.uuid4().hex[:6]}"
    exp = call(base, "POST", "mlflow/experiments/create", {"name": name})["experiment_id"]
    run_info = call(base, "POST", "mlflow/runs/create", {
        "experiment_id": exp, "start_time": 1_780_000_000_000,
        "tags": [{"key": "mlflow.source.git.commit", "value": GIT_COMMIT}]})["run"]["info"]
    run_id = run_info["run_id"]
    call(base, "POST", "mlflow/runs/log-batch", {"run_id": run_id, "params": [
        {"key": "learning_rate", "value": "0.05"}, {"key": "max_depth", "value": "6"}], "metrics": [
        {"key": "auc", "value": 0.931, "timestamp": 1_780_000_000_000, "step": 0},
        {"key": "precision", "value": 0.88, "timestamp": 1_780_000_000_000, "step": 0}]})
    call(base, "POST", "mlflow/runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": {
        "name": "transactions-2026-10", "digest": "a1b2c3d4", "source_type": "local",
        "source": json.dumps({"uri": "s3://data/transactions/2026-10.parquet"})},
        "tags": [{"key": "mlflow.data.context", "value": "training"}]}]})
    root = run_info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for path, content in ARTIFACTS.items():
        call(base, "PUT", f"mlflow-artifacts/artifacts/{root}/{path}", data=content)
    call(base, "POST", "mlflow/registered-models/create", {"name": name})
    version = call(base, "POST", "mlflow/model-versions/create", {
        "name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})["model_version"]["version"]
    call(base, "POST", "mlflow/registered-models/alias", {"name": name, "alias": "champion", "version": version})
    return {"name": name, "version": version, "run_id": run_id}


@pytest.fixture(scope="module")
def mlflow() -> Iterator[tuple[str, dict[str, Any]]]:
    """A running tracking server with one registered model version."""
    with mlflow_server() as url:
        yield url, seed(url)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait for work that continues after the ack (collection) to show."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the collection"
        await asyncio.sleep(0.1)


async def evidence_of(stack: LocalStack, incident_id: int) -> list[Evidence]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                                  .order_by(col(Evidence.number)))).all())


async def test_declaring_with_a_model_collects_it_as_the_first_evidence(
        database_url: str, mlflow: tuple[str, dict[str, Any]]) -> None:
    url, model = mlflow
    async with local_stack(database_url=database_url, env={"mlflow_tracking_uri": url}) as stack:
        ref = f"{model['name']}@{model['version']}"
        incident, result = await declare(stack, "Fraud precision drop",
                                         options=f"sev=2 type=model-regression model={ref}")
        assert result.ack_seconds < 3
        assert incident.id is not None

        async def collected() -> bool:
            return len(await evidence_of(stack, incident.id or 0)) >= 1

        await eventually(collected)
        e1 = (await evidence_of(stack, incident.id))[0]
        assert (e1.number, e1.kind, e1.status, e1.ref) == (1, "model", "ok", ref)
        assert e1.options == {"model": ref, "sha": GIT_COMMIT, "snapshot": "transactions-2026-10@a1b2c3d4"}
        custody = e1.custody
        assert custody["collector"] == {"name": "mlflow", "version": MlflowCollector.version}
        assert custody["requested_by"] == stack.driver.user("alice").id
        assert custody["source_url"].startswith(url) and custody["retrieved_at"] and custody["requested_at"]
        assert custody["request"]["name"] == model["name"] and custody["request"]["version"] == model["version"]
        assert e1.media_type == "application/json" and e1.artifact is not None and e1.artifact_path is None
        assert hashlib.sha256(e1.artifact).hexdigest() == custody["artifact"]["sha256"]
        assert custody["artifact"]["size"] == len(e1.artifact) and custody["artifact"]["stored"] == "database"

        doc = json.loads(e1.artifact)
        assert doc["model_version"]["run_id"] == model["run_id"]
        assert doc["model_version"]["aliases"] == ["champion"]
        assert doc["model_version"]["source"] == f"runs:/{model['run_id']}/model"
        assert doc["run"]["params"] == {"learning_rate": "0.05", "max_depth": "6"}
        assert doc["run"]["metrics"] == {"auc": 0.931, "precision": 0.88}
        assert doc["run"]["tags"]["mlflow.source.git.commit"] == GIT_COMMIT
        assert doc["run"]["datasets"] == [{"name": "transactions-2026-10", "digest": "a1b2c3d4",
                                           "source_type": "local", "context": "training",
                                           "source": json.dumps({"uri": "s3://data/transactions/2026-10.parquet"})}]
        listed = {f["path"]: f["size"] for f in doc["artifacts"]["files"]}
        assert listed == {p: len(c) for p, c in ARTIFACTS.items() if p.startswith("model/")}
        assert custody["metadata"]["artifact_files"] == 3 and custody["metadata"]["git_commit"] == GIT_COMMIT

        rows = await entries(stack, incident.id)
        added = next(e for e in rows if e.kind == "evidence_added")
        assert added.data["collector"] == "mlflow" and added.data["artifact_sha256"] == custody["artifact"]["sha256"]
        channel_text = "\n".join(str(m.get("text")) for m in stack.driver.messages(incident.channel_name))
        assert "Collected *E1* (model)" in channel_text and GIT_COMMIT[:12] in channel_text
        async with stack.deps.session() as s:
            inc = await s.get(Incident, incident.id)
            assert inc is not None and (await chain.verify_incident(s, inc)).ok


async def test_aliases_resolve_and_a_missing_version_is_a_recorded_failure(
        database_url: str, mlflow: tuple[str, dict[str, Any]]) -> None:
    url, model = mlflow
    async with local_stack(database_url=database_url, env={"mlflow_tracking_uri": url}) as stack:
        incident, _ = await declare(stack, "Champion model misbehaves", options="sev=3 type=model-regression")
        ch = incident.channel_name
        alias = await run(stack, "bob", ch, f"evidence model models:/{model['name']}@champion serving now")
        assert alias.ack_seconds < 3
        await eventually(lambda: _has(alias, "Collected *E1*"))
        assert "Collecting model" in alias.text()
        missing = await run(stack, "bob", ch, f"evidence model {model['name']}@9")
        await eventually(lambda: _has(missing, "failed attempt"))
        assert f"answered 404 for model {model['name']} version 9" in missing.text()

        e1, e2 = await evidence_of(stack, incident.id or 0)
        assert e1.status == "ok" and e1.options["model"] == f"{model['name']}@{model['version']}"
        assert e1.note == "serving now" and json.loads(e1.artifact or b"{}")["requested"].endswith("alias champion")
        assert e2.status == "failed" and e2.artifact is None and e2.media_type is None
        assert "answered 404" in e2.custody["error"] and e2.custody["collector"]["name"] == "mlflow"
        failed = [e for e in await entries(stack, incident.id or 0) if e.kind == "evidence_added"][-1]
        assert failed.data["status"] == "failed" and "answered 404" in failed.data["error"]


async def _has(result: Any, text: str) -> bool:
    return text in result.text()


LOG_MODEL = """
import json, sys
import mlflow
from mlflow.pyfunc import PythonModel

class Threshold(PythonModel):
    def predict(self, context, model_input, params=None):
        return [x > 0.5 for x in model_input["score"]]

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment(sys.argv[2])
with mlflow.start_run() as run:
    mlflow.log_param("threshold", "0.5")
    mlflow.set_tag("mlflow.source.git.commit", "feedbeef")
    info = mlflow.pyfunc.log_model(name="model", python_model=Threshold(), registered_model_name=sys.argv[2])
print(json.dumps({"run_id": run.info.run_id, "model_id": info.model_id}))
"""


async def test_a_model_logged_with_the_mlflow_client_lists_its_logged_model_artifacts(
        mlflow: tuple[str, dict[str, Any]]) -> None:
    url, _ = mlflow
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    done = subprocess.run([str(mlflow_python()), "-c", LOG_MODEL, url, name], capture_output=True, text=True,
                          timeout=180, check=True)
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    env = CollectEnv(settings=Settings(mlflow_tracking_uri=url), now=datetime.now(UTC), requested_by="U1")
    out = await MlflowCollector().collect(CollectRequest("model", f"models:/{name}/latest"), env)
    doc = json.loads(out.files[0].data)
    assert out.metadata["model_id"] == logged["model_id"] and out.metadata["run_id"] == logged["run_id"]
    assert doc["logged_model"]["source_run_id"] == logged["run_id"]
    paths = {f["path"] for f in doc["artifacts"]["files"]}
    assert {"MLmodel", "python_model.pkl"} <= paths and all(f["size"] > 0 for f in doc["artifacts"]["files"])
    assert out.options == {"model": f"{name}@1", "sha": "feedbeef"}
