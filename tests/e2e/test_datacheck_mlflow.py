"""`/retro datacheck` reading MLflow: a run's artifact (`runs:/…`) and a model version's training dataset
(`models:/…`), against a real tracking server with proxied artifacts."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.local import LocalStack, local_stack
from bot.record import chain
from sandbox import CommandResult
from storage.models import Evidence, Incident
from tests.e2e.helpers import declare, run
from tests.e2e.servers import mlflow_server
from tests.e2e.test_collectors_datacheck import items
from tests.e2e.test_collectors_datacheck import settled as checked
from tests.e2e.test_collectors_mlflow import call
from tests.unit.test_datacheck import rows, to_csv

TRAIN = to_csv(rows(400, seed=21))
TODAY = to_csv(rows(400, seed=22, amount=lambda r: round(r.lognormvariate(3.6, 0.6), 2)))
ARTIFACTS = {"data/train.csv": TRAIN, "data/extra/notes.txt": b"hello\n", "data/holdout.csv": TRAIN[:2000]}


@dataclass
class World:
    """The tracking server's URL, the run holding the artifacts, and registered models by what they show."""

    url: str
    run_id: str
    models: dict[str, str]


def _run(base: str, exp: str) -> tuple[str, str]:
    info = call(base, "POST", "mlflow/runs/create", {"experiment_id": exp, "start_time": 1_780_000_000_000})
    return info["run"]["info"]["run_id"], info["run"]["info"]["artifact_uri"]


def _model(base: str, exp: str, datasets: list[tuple[str, str, str]]) -> str:
    """A registered model whose version's run logged `datasets` (name, source uri, context); returns its name.
    MLflow keeps one dataset per experiment, name and digest (the first source logged wins): names differ."""
    run_id, _ = _run(base, exp)
    if datasets:
        call(base, "POST", "mlflow/runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": {
            "name": name, "digest": f"d{i}", "source_type": "local", "source": json.dumps({"uri": uri})},
            "tags": [{"key": "mlflow.data.context", "value": context}]} for i, (name, uri, context) in
            enumerate(datasets)]})
    name = f"scorer-{uuid.uuid4().hex[:6]}"
    call(base, "POST", "mlflow/registered-models/create", {"name": name})
    call(base, "POST", "mlflow/model-versions/create", {"name": name, "source": f"runs:/{run_id}/model",
                                                        "run_id": run_id})
    call(base, "POST", "mlflow/registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    return name


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A tracking server: one run holding data artifacts, and models whose training data MLflow records
    differently."""
    with mlflow_server() as url:
        exp = call(url, "POST", "mlflow/experiments/create", {"name": f"data-{uuid.uuid4().hex[:6]}"})["experiment_id"]
        run_id, root = _run(url, exp)
        for path, content in ARTIFACTS.items():
            call(url, "PUT", f"mlflow-artifacts/artifacts/{root.removeprefix('mlflow-artifacts:/')}/{path}",
                 data=content)
        train = f"runs:/{run_id}/data/train.csv"
        models = {
            "good": _model(url, exp, [("train-2026-11", train, "training"), ("eval-2026-11", train, "evaluation")]),
            "proxied": _model(url, exp, [("train-proxied", f"{root}/data/train.csv", "training")]),
            "none": _model(url, exp, [("eval-2026-11", train, "evaluation")]),
            "s3": _model(url, exp, [("train-s3", "s3://lake/train/2026-11.parquet", "training")]),
            "two": _model(url, exp, [("a", train, "training"), ("b", f"runs:/{run_id}/data/holdout.csv",
                                                                  "training")]),
        }
        yield World(url, run_id, models)


@pytest.fixture
async def stack(database_url: str, world: World) -> AsyncIterator[LocalStack]:
    """The local stack reading the test's tracking server."""
    async with local_stack(database_url=database_url, env={"mlflow_tracking_uri": world.url}) as s:
        yield s


async def settled(result: CommandResult) -> str:
    """The replies once the check is stored or failed."""
    return await checked(result, "stored as", "failed attempt")


async def failed(stack: LocalStack, incident: Incident, text: str, *needles: str) -> Evidence:
    """Run a check that MLflow cannot serve: the reply and the recorded failed attempt carry every needle."""
    reply = await settled(await run(stack, "erin", incident.channel_name, text))
    row = (await items(stack, incident.id or 0))[-1]
    assert (row.status, row.ref) == ("failed", text), reply
    for needle in needles:
        assert needle in reply and needle in row.custody["error"], (needle, reply)
    return row


async def test_a_run_artifact_is_compared_with_a_slack_file_and_its_custody_says_where_it_came_from(
        stack: LocalStack, world: World) -> None:
    incident, _ = await declare(stack, "Scores drifted")
    ch = incident.channel_name
    await stack.driver.share_file("dave", ch, "today.csv", TODAY)
    await stack.settle()
    ref = f"runs:/{world.run_id}/data/train.csv"
    reply = await settled(await run(stack, "alice", ch, f"datacheck baseline={ref} current=today.csv key=id"))
    assert "Data check stored as *E1*" in reply

    e1 = (await items(stack, incident.id or 0))[0]
    base = e1.custody["metadata"]["inputs"]["baseline"]
    assert base["sha256"] == hashlib.sha256(TRAIN).hexdigest() and base["size"] == len(TRAIN)
    assert (base["ref"], base["name"], base["run_id"], base["artifact_path"]) == (
        ref, "train.csv", world.run_id, "data/train.csv")
    assert base["mlflow"] == world.url and base["artifact_uri"].startswith("mlflow-artifacts:/")
    assert base["artifact_uri"].endswith(f"{world.run_id}/artifacts/data/train.csv")
    assert base["url"].startswith(f"{world.url}/api/2.0/mlflow-artifacts/artifacts/")
    assert e1.options["baseline"] == f"train.csv@sha256:{hashlib.sha256(TRAIN).hexdigest()}"
    assert [f["column"] for f in e1.custody["metadata"]["flagged"]] == ["amount"]
    async with stack.deps.session() as s:
        inc = await s.get(Incident, incident.id)
        assert inc is not None and (await chain.verify_incident(s, inc)).ok


async def test_a_run_outside_the_proxied_store_is_read_through_the_server(
        stack: LocalStack, world: World, tmp_path: Path) -> None:
    exp = call(world.url, "POST", "mlflow/experiments/create", {
        "name": f"local-{uuid.uuid4().hex[:6]}", "artifact_location": tmp_path.as_uri()})["experiment_id"]
    run_id, root = _run(world.url, exp)
    assert root.startswith("file://")
    where = Path(urllib.parse.urlparse(root).path) / "exports" / "today.csv"
    where.parent.mkdir(parents=True)
    where.write_bytes(TODAY)
    incident, _ = await declare(stack, "Local artifact store")
    ref = f"runs:/{run_id}/exports/today.csv"
    reply = await settled(await run(stack, "alice", incident.channel_name,
                                    f"datacheck baseline=runs:/{world.run_id}/data/train.csv current={ref}"))
    assert "Data check stored as *E1*" in reply
    cur = (await items(stack, incident.id or 0))[0].custody["metadata"]["inputs"]["current"]
    assert cur["sha256"] == hashlib.sha256(TODAY).hexdigest() and cur["artifact_uri"] == f"{root}/exports/today.csv"
    assert cur["url"].startswith(f"{world.url}/get-artifact?")


async def test_a_model_version_is_compared_by_the_training_dataset_its_run_logged(
        stack: LocalStack, world: World) -> None:
    incident, _ = await declare(stack, "Model regressed")
    ch = incident.channel_name
    await stack.driver.share_file("dave", ch, "today.csv", TODAY)
    await stack.settle()
    name = world.models["good"]
    for i, ref in enumerate((f"models:/{name}/1", f"models:/{name}@champion"), start=1):
        reply = await settled(await run(stack, "alice", ch, f"datacheck baseline={ref} current=today.csv"))
        assert f"Data check stored as *E{i}*" in reply
        base = (await items(stack, incident.id or 0))[-1].custody["metadata"]["inputs"]["baseline"]
        assert base["sha256"] == hashlib.sha256(TRAIN).hexdigest()
        assert (base["model"], base["version"], base["run_id"], base["artifact_path"]) == (
            name, "1", world.run_id, "data/train.csv")
        assert base["model_run_id"] != world.run_id and base["requested"].startswith(f"model {name} ")
        assert base["dataset"]["name"] == "train-2026-11" and base["dataset"]["digest"] == "d0"
        assert json.loads(base["dataset"]["source"]) == {"uri": f"runs:/{world.run_id}/data/train.csv"}
    proxied = world.models["proxied"]
    reply = await settled(await run(stack, "alice", ch, f"datacheck baseline=models:/{proxied}/1 current=today.csv"))
    assert "Data check stored as *E3*" in reply
    base = (await items(stack, incident.id or 0))[-1].custody["metadata"]["inputs"]["baseline"]
    assert base["sha256"] == hashlib.sha256(TRAIN).hexdigest() and base["run_id"] is None
    assert base["artifact_uri"] == json.loads(base["dataset"]["source"])["uri"]
    assert base["artifact_uri"].endswith(f"/{world.run_id}/artifacts/data/train.csv")


async def test_what_mlflow_cannot_serve_is_a_failed_attempt_saying_what_it_records(
        stack: LocalStack, world: World) -> None:
    incident, _ = await declare(stack, "Missing data")
    await stack.driver.share_file("dave", incident.channel_name, "today.csv", TODAY)
    await stack.settle()
    m = world.models
    await failed(stack, incident, f"datacheck baseline=models:/{m['none']}/1 current=models:/{m['good']}/1",
                 f"MLflow records no training dataset for {m['none']} version 1",
                 "`eval-2026-11` (evaluation context)", "runs:/")
    await failed(stack, incident, f"datacheck baseline=models:/{m['s3']}/1 current=models:/{m['good']}/1",
                 "`train-s3` (digest d0)", "`s3://lake/train/2026-11.parquet`, outside what the tracking server",
                 "Give the training file itself: runs:/")
    await failed(stack, incident, f"datacheck baseline=models:/{m['two']}/1 current=models:/{m['good']}/1",
                 "MLflow records 2 training datasets", "`a`", "`b`")
    await failed(stack, incident, f"datacheck baseline=runs:/{world.run_id}/data/missing.csv current=today.csv",
                 f"`data/missing.csv` in the artifacts of run {world.run_id} does not exist",
                 "`data/extra/`", "`data/holdout.csv`", "`data/train.csv`")
    await failed(stack, incident, f"datacheck baseline=runs:/{world.run_id}/data/extra current=today.csv",
                 "is a folder, not a file", "`data/extra/notes.txt`",
                 f"runs:/{world.run_id}/data/extra/notes.txt")
    await failed(stack, incident, f"datacheck baseline=runs:/{world.run_id}/nowhere/x.csv current=today.csv",
                 "does not exist; the top folder holds `data/`")
    rows_ = await items(stack, incident.id or 0)
    assert all(r.status == "failed" and r.custody["collector"]["name"] == "datacheck" for r in rows_)
    assert len(rows_) == 6


async def test_a_snapshot_past_the_size_limit_is_refused_and_recorded(database_url: str, world: World) -> None:
    env = {"mlflow_tracking_uri": world.url, "retro_datacheck_max_bytes": "4096"}
    async with local_stack(database_url=database_url, env=env) as stack:
        incident, _ = await declare(stack, "Big training set")
        text = f"datacheck baseline=runs:/{world.run_id}/data/train.csv current=models:/{world.models['good']}/1"
        await failed(stack, incident, text, "larger than the 4 KiB a data check reads (RETRO_DATACHECK_MAX_BYTES)")


async def test_malformed_references_and_a_missing_tracking_server_are_refused_unrecorded(
        database_url: str, world: World) -> None:
    async with local_stack(database_url=database_url, env={"mlflow_tracking_uri": world.url}) as stack:
        incident, _ = await declare(stack, "Typos")
        ch = incident.channel_name
        for text, needle in ((f"datacheck baseline=runs:/{world.run_id} current=E1", "give runs:/<run_id>/<path>"),
                             (f"datacheck baseline=runs:/{world.run_id}/../x.csv current=E1", "is not a run's"),
                             ("datacheck baseline=models:/scorer current=E1", "give models:/<name>/<version>")):
            reply = (await run(stack, "erin", ch, text)).text()
            assert needle in reply and "Usage: `/retro datacheck" in reply, reply
        assert await items(stack, incident.id or 0) == []
    async with local_stack(database_url=database_url) as stack:
        incident, _ = await declare(stack, "No MLflow here")
        reply = (await run(stack, "erin", incident.channel_name,
                           f"datacheck baseline=runs:/{world.run_id}/data/train.csv current=E1")).text()
        assert "none is configured (MLFLOW_TRACKING_URI)" in reply, reply
        assert await items(stack, incident.id or 0) == []
