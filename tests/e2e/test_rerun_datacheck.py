"""A data check run again: from the export bundle offline and from the record, reproduced, differing when a snapshot
changed, unavailable when it is gone; the bundle carries the snapshots and artifacts and verify checks them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from bot.app import offline
from bot.app.local import LocalStack
from bot.app.reruns import rerun_command
from bot.collectors import artifacts
from bot.postmortem import bundle_sources
from bot.postmortem.export import MANIFEST, read_manifest
from storage.models import Incident
from tests.e2e.helpers import declare, run
from tests.e2e.test_collectors_datacheck import items, settled
from tests.unit.test_datacheck import rows, to_csv

TRAIN = to_csv(rows(800, seed=21))
TODAY = to_csv(rows(800, seed=22, amount=lambda r: round(r.lognormvariate(3.5, 0.6), 2)))


async def checked_incident(stack: LocalStack) -> Incident:
    """An incident with a data check (E2) of two files shared in its channel."""
    incident, _ = await declare(stack, "Fraud scores shifted")
    ch = incident.channel_name
    train_id = await stack.driver.share_file("dave", ch, "train.csv", TRAIN)
    await stack.driver.share_file("dave", ch, "today.csv", TODAY)
    await stack.settle()
    await run(stack, "dave", ch, f"evidence file {train_id} training window")
    text = await settled(await run(stack, "alice", ch, "datacheck baseline=E1 current=today.csv key=id"),
                         "Data check stored as *E2*", "failed")
    assert "Data check stored as *E2*" in text
    return incident


async def test_a_data_check_reruns_from_its_bundle_and_from_the_record(
        stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    incident = await checked_incident(stack)
    settings, ch = stack.deps.settings, incident.channel_name
    e2 = (await items(stack, incident.id or 0))[1]
    analysis = e2.custody["analysis"]
    sha_train, sha_today = hashlib.sha256(TRAIN).hexdigest(), hashlib.sha256(TODAY).hexdigest()
    assert analysis["kind"] == "datacheck" and analysis["format"] == "retro-analysis/1"
    assert analysis["inputs"]["baseline"] == {"name": "train.csv", "sha256": sha_train, "size": len(TRAIN)}
    assert analysis["params"]["key"] == ["id"] and analysis["params"]["thresholds"]["psi"] == "0.2"
    assert {"retro", "python", "numpy", "scipy", "pyarrow"} <= set(analysis["versions"])
    assert artifacts.input_path(settings, sha_today).read_bytes() == TODAY  # kept under its digest

    folder = tmp_path / "bundle"
    assert await offline.export_incident(settings, ch, folder) == 0
    _, listed = read_manifest(folder)
    assert listed[f"inputs/{sha_train}"] == sha_train and (folder / f"inputs/{sha_today}").read_bytes() == TODAY
    zipped = bundle_sources.artifact_file(json.loads((folder / "incident.json").read_text())["evidence"][1])
    assert zipped is not None and listed[zipped] == e2.custody["artifact"]["sha256"]
    capsys.readouterr()
    assert await offline.verify(settings, str(folder)) == 0
    assert f"ok   inputs/{sha_train}: matches its name" in capsys.readouterr().out

    assert await rerun_command(settings, str(folder), ["E2"]) == 0
    out = capsys.readouterr().out
    assert f"E2 datacheck: reproduced (sha256 {analysis['output_sha256']})" in out
    assert "1 analysis: 1 reproduced run again from the bundle" in out
    assert await rerun_command(settings, ch, []) == 0  # from the record: the kept inputs
    assert "E2 datacheck: reproduced" in capsys.readouterr().out

    # Someone swaps the current snapshot for other data: the check differs, and says which figures moved.
    changed = to_csv(rows(700, seed=23))
    (folder / f"inputs/{sha_today}").write_bytes(changed)
    assert await rerun_command(settings, str(folder), []) == 4
    out = capsys.readouterr().out
    assert "E2 datacheck: differs" in out and "the current snapshot today.csv is not the one compared" in out
    assert "rows (current): 800 → 700 (-100)" in out and "`amount` psi:" in out
    assert f"BAD  inputs/{sha_today}: SHA-256 is" in out and "The bundle does not verify" in out
    capsys.readouterr()
    assert await offline.verify(settings, str(folder)) == 1  # and the bundle no longer verifies

    # The snapshot is gone (and the MANIFEST says so: a bundle whose snapshots were not kept still verifies): the
    # source is unavailable.
    (folder / f"inputs/{sha_today}").unlink()
    manifest = (folder / MANIFEST).read_text().splitlines()
    (folder / MANIFEST).write_text("\n".join(line for line in manifest if f"inputs/{sha_today}" not in line) + "\n")
    assert await rerun_command(settings, str(folder), ["e2"]) == 3
    out = capsys.readouterr().out
    assert "E2 datacheck: source unavailable" in out and "does not verify" not in out
    assert await rerun_command(settings, str(folder), ["E1"]) == 2  # E1 is a file: nothing to run
    assert "E1 records no analysis" in capsys.readouterr().err
    assert await rerun_command(settings, str(folder), ["E2x"]) == 2
    assert "`E2x` is not an evidence id like E5" in capsys.readouterr().err


async def test_verify_refuses_an_artifact_that_is_not_the_one_recorded(stack: LocalStack, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    incident = await checked_incident(stack)
    folder = tmp_path / "bundle"
    assert await offline.export_incident(stack.deps.settings, incident.channel_name, folder) == 0
    doc = json.loads((folder / "incident.json").read_text())
    name = bundle_sources.artifact_file(doc["evidence"][1])
    assert name is not None
    # Replace the report and rewrite the MANIFEST to match: sha256sum -c would pass, the chain does not.
    (folder / name).write_bytes(b"PK\x03\x04 not the report")
    manifest = (folder / MANIFEST).read_text().splitlines()
    fixed = [f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}" if line.endswith(name) else line
             for line in manifest]
    (folder / MANIFEST).write_text("\n".join(fixed) + "\n")
    capsys.readouterr()
    assert await offline.verify(stack.deps.settings, str(folder)) == 1
    assert f"BAD  {name}: is not the artifact its evidence item recorded" in capsys.readouterr().out
    shutil.rmtree(folder / "evidence")  # a bundle without attached files still verifies: they are optional
    (folder / MANIFEST).write_text("\n".join(line for line in manifest if "  evidence/" not in line) + "\n")
    assert await offline.verify(stack.deps.settings, str(folder)) == 0


async def test_rerun_from_slack_keeps_the_outcome_as_evidence(stack: LocalStack) -> None:
    incident = await checked_incident(stack)
    ch = incident.channel_name
    result = await run(stack, "bob", ch, "rerun E2")
    await stack.settle()
    assert "Running E2 again" in result.text()
    said = [str(m.get("text")) for m in stack.driver.bot_messages(ch) if "run again" in str(m.get("text"))]
    assert said and "*E2* (datacheck) run again: *reproduced*, kept as *E3*" in said[-1]
    e3 = (await items(stack, incident.id or 0))[2]
    assert (e3.kind, e3.ref, e3.status) == ("dataset", "rerun E2", "ok")
    assert e3.custody["metadata"]["outcome"] == "reproduced"
    assert e3.custody["metadata"]["new_sha256"] == e3.custody["metadata"]["recorded_sha256"]
    assert e3.options == {"rerun_of": "E2", "outcome": "reproduced"}

    refused = await run(stack, "bob", ch, "rerun E1")
    assert "E1 records no analysis to run again (file evidence" in refused.text()
    assert "/retro rerun E<n>" in refused.text()
    assert "There is no E9 in this incident" in (await run(stack, "bob", ch, "rerun E9")).text()
    assert "Name the evidence to run again" in (await run(stack, "bob", ch, "rerun")).text()
    assert len(await items(stack, incident.id or 0)) == 3  # refusals record nothing
