"""`/retro datacheck` over files shared in the incident channel, and the bounds on what one check may use."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import offline
from bot.app.local import LocalStack, local_stack
from bot.collectors import comparison
from bot.incident.evidence import reproduction_context
from bot.record import chain
from sandbox import CommandResult
from storage.models import Evidence, Incident
from tests.e2e.helpers import declare, run
from tests.unit.datacheck_gate import gate_dir, held_report
from tests.unit.test_datacheck import ragged, rows, to_csv


async def settled(result: CommandResult, *needles: str) -> str:
    deadline = asyncio.get_running_loop().time() + 30
    while not any(n in result.text() for n in needles):
        assert asyncio.get_running_loop().time() < deadline, result.text()
        await asyncio.sleep(0.05)
    return result.text()


async def items(stack: LocalStack, incident_id: int) -> list[Evidence]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                                  .order_by(col(Evidence.number)))).all())


async def test_datacheck_flags_the_drifted_feature_and_keeps_the_report(stack: LocalStack, tmp_path: Path) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Fraud scores shifted")
    ch = incident.channel_name
    train = to_csv(rows(2500, seed=11))
    today = to_csv(rows(2500, seed=12, amount=lambda r: round(r.lognormvariate(3.5, 0.6), 2)))
    train_id = await drv.share_file("dave", ch, "train.csv", train)
    await drv.share_file("dave", ch, "today.csv", today)
    await stack.settle()
    await run(stack, "dave", ch, f"evidence file {train_id} training window")

    result = await run(stack, "alice", ch, "datacheck baseline=E1 current=today.csv key=id")
    text = await settled(result, "Data check stored as *E2*", "failed")
    assert "Comparing E1 with today.csv" in text and "Data check stored as *E2*" in text

    e1, e2 = await items(stack, incident.id or 0)
    assert (e2.kind, e2.status, e2.ref) == ("dataset", "ok", "datacheck baseline=E1 current=today.csv key=id")
    assert e2.note.startswith("1 of 5 feature(s) flagged")
    sha_train, sha_today = hashlib.sha256(train).hexdigest(), hashlib.sha256(today).hexdigest()
    assert e2.options == {"snapshot": f"today.csv@sha256:{sha_today}", "baseline": f"train.csv@sha256:{sha_train}",
                          "key": "id"}
    assert e1.file_sha256 == sha_train
    custody = e2.custody
    assert custody["collector"]["name"] == "datacheck" and custody["requested_by"] == drv.user("alice").id
    inputs = custody["metadata"]["inputs"]
    assert inputs["baseline"]["evidence"] == 1 and inputs["baseline"]["sha256"] == sha_train
    assert inputs["current"]["name"] == "today.csv" and inputs["current"]["sha256"] == sha_today
    assert [f["column"] for f in custody["metadata"]["flagged"]] == ["amount"]
    assert e2.media_type == "application/zip" and e2.artifact is not None
    bundle = zipfile.ZipFile(io.BytesIO(e2.artifact))
    report = json.loads(bundle.read("datacheck-report.json"))
    assert report["flagged"] == ["amount"] and report["key"]["matched"] == 2500
    assert "| `amount` |" in bundle.read("datacheck-report.md").decode()

    summary = next(m for m in drv.bot_messages(ch) if ":bar_chart: *E2*" in str(m.get("text")))
    assert "`amount` ks, psi" in str(summary["text"]) and "`today.csv`" in str(summary["text"])
    posted = summary.get("files") or []  # the chart of the flagged feature comes with the summary, as in E2's ZIP
    assert [f["name"] for f in posted] == ["E2-datacheck-chart-01-amount.png"]
    assert bundle.read("datacheck-chart-01-amount.png")[:4] == b"\x89PNG"
    repro = reproduction_context([e1, e2])
    assert f"today.csv@sha256:{sha_today}" in repro["datasets"] and f"train.csv@sha256:{sha_train}" in repro["datasets"]
    async with stack.deps.session() as s:
        inc = await s.get(Incident, incident.id)
        assert inc is not None and (await chain.verify_incident(s, inc)).ok
    assert await offline.export_incident(stack.deps.settings, ch, tmp_path / "bundle") == 0
    assert await offline.verify(stack.deps.settings, str(tmp_path / "bundle")) == 0
    assert await offline.verify(stack.deps.settings, ch) == 0


async def test_datacheck_failures_are_recorded_and_usage_errors_are_not(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Broken export")
    ch = incident.channel_name
    good = await drv.share_file("erin", ch, "good.csv", to_csv(rows(50, seed=1)))
    await drv.share_file("erin", ch, "blob.bin", b"\x00\x01binary")
    await stack.settle()

    usage = await run(stack, "erin", ch, "datacheck baseline=E1")
    assert "Give current=: an evidence id like E2, or a file's link or name." in usage.text()
    unknown = await run(stack, "erin", ch, f"datacheck baseline=E9 current={good}")
    assert "No evidence E9" in unknown.text()
    missing = await run(stack, "erin", ch, "datacheck baseline=nothing.csv current=good.csv")
    assert "No file named `nothing.csv`" in missing.text()
    assert await items(stack, incident.id or 0) == []

    binary = await run(stack, "erin", ch, "datacheck baseline=good.csv current=blob.bin")
    assert "looks binary" in await settled(binary, "failed attempt")
    bad_key = await run(stack, "erin", ch, "datacheck baseline=good.csv current=good.csv key=nope")
    assert "Key column `nope`" in await settled(bad_key, "failed attempt")
    e1, e2 = await items(stack, incident.id or 0)
    assert (e1.status, e2.status) == ("failed", "failed") and e1.custody["collector"]["name"] == "datacheck"
    assert "looks binary" in e1.custody["error"] and e2.ref.endswith("key=nope")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Data checks of this test wait in their worker until the test touches gate/open."""
    where = gate_dir(os.getpid())
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    monkeypatch.setattr(comparison, "report", held_report)
    yield where
    (where / "open").touch()
    shutil.rmtree(where, ignore_errors=True)


async def acked(stack: LocalStack, user: str, channel: str, text: str) -> CommandResult:
    """Run `/retro <text>` without waiting for the work after its ack."""
    result = await stack.driver.command(user, channel, text)
    assert result.ok, (text, result.status, result.ack_error)
    return result


async def until(ready: Callable[[], bool], what: str) -> None:
    """Wait (30 s at most) until `ready()`."""
    deadline = asyncio.get_running_loop().time() + 30
    while not ready():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.02)


async def failed_attempt(stack: LocalStack, incident: Incident, text: str, *needles: str) -> Evidence:
    """Run the check; the reply and the recorded failed attempt both carry every needle."""
    reply = await settled(await run(stack, "erin", incident.channel_name, text), "failed attempt", "stored as")
    row = (await items(stack, incident.id or 0))[-1]
    assert (row.status, row.custody["collector"]["name"]) == ("failed", "datacheck"), reply
    for needle in needles:
        assert needle in reply and needle in row.custody["error"], (needle, reply)
    return row


def big_csv(count: int) -> bytes:
    """`count` rows of four short columns."""
    return ("id,a,b,c\n" + "".join(f"{i},{i % 7},x{i % 13},{i * 0.5}\n" for i in range(count))).encode()


async def test_a_ragged_csv_past_the_column_limit_is_refused_at_once_and_recorded(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Wide export")
    await stack.driver.share_file("erin", incident.channel_name, "ragged.csv", ragged(8000, 40_000))
    await stack.settle()
    started = asyncio.get_running_loop().time()
    row = await failed_attempt(stack, incident, "datacheck baseline=ragged.csv current=ragged.csv",
                               "ragged.csv has 8,000 columns, more than the 1,000 a data check reads",
                               "RETRO_DATACHECK_MAX_COLUMNS")
    assert asyncio.get_running_loop().time() - started < 10
    assert row.ref == "datacheck baseline=ragged.csv current=ragged.csv"


async def test_a_check_past_the_memory_limit_is_stopped_reported_and_recorded(database_url: str) -> None:
    async with local_stack(database_url=database_url, env={"retro_datacheck_max_memory_mb": "100"}) as stack:
        incident, _ = await declare(stack, "Big export")
        await stack.driver.share_file("erin", incident.channel_name, "big.csv", big_csv(200_000))
        await stack.settle()
        await failed_attempt(stack, incident, "datacheck baseline=big.csv current=big.csv key=id",
                             "needed more than the 100 MB of memory its worker may use",
                             "RETRO_DATACHECK_MAX_MEMORY_MB")


async def test_a_check_past_its_timeout_is_stopped_reported_and_recorded(database_url: str, gate: Path) -> None:
    async with local_stack(database_url=database_url, env={"retro_datacheck_timeout": "1"}) as stack:
        incident, _ = await declare(stack, "Slow export")
        await stack.driver.share_file("erin", incident.channel_name, "a.csv", to_csv(rows(50, seed=1)))
        await stack.settle()
        await failed_attempt(stack, incident, "datacheck baseline=a.csv current=a.csv",
                             "took longer than 1 s, and was stopped", "RETRO_DATACHECK_TIMEOUT")


async def test_checks_wait_for_a_free_worker_and_are_told_their_place(database_url: str, gate: Path) -> None:
    env = {"retro_datacheck_concurrency": "1", "retro_datacheck_max_queued": "1"}
    async with local_stack(database_url=database_url, env=env) as stack:
        drv = stack.driver
        incident, _ = await declare(stack, "Two checks")
        ch = incident.channel_name
        await drv.share_file("erin", ch, "a.csv", to_csv(rows(50, seed=1)))
        await stack.settle()
        first = await acked(stack, "alice", ch, "datacheck baseline=a.csv current=a.csv")
        await until((gate / "started").exists, "the first check never reached its worker")
        second = await acked(stack, "bob", ch, "datacheck baseline=a.csv current=a.csv key=id")
        told = await settled(second, "queued")
        assert "your check is queued, number 1 in line" in told and "Data check stored" not in first.text()
        third = await acked(stack, "carol", ch, "datacheck baseline=a.csv current=a.csv")
        assert "the queue is full (1 waiting, RETRO_DATACHECK_MAX_QUEUED). Nothing was recorded" in await settled(
            third, "queue is full")
        (gate / "open").touch()
        await stack.settle()
        assert "Data check stored as *E1*" in first.text() and "Data check stored as *E2*" in second.text()
        e1, e2 = await items(stack, incident.id or 0)  # the refused third check left no record
        assert (e1.status, e2.status, e2.ref) == ("ok", "ok", "datacheck baseline=a.csv current=a.csv key=id")
        assert e1.custody["retrieved_at"] < e2.custody["retrieved_at"]


async def test_the_bot_answers_a_note_while_a_check_runs(stack: LocalStack, gate: Path) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Busy bot")
    ch = incident.channel_name
    await drv.share_file("erin", ch, "a.csv", to_csv(rows(50, seed=1)))
    await stack.settle()
    check = await acked(stack, "alice", ch, "datacheck baseline=a.csv current=a.csv")
    await until((gate / "started").exists, "the check never reached its worker")
    note = await acked(stack, "bob", ch, "note rolled back to fraud@2")
    assert "Noted as key event" in await settled(note, "Noted as key event")
    assert "Data check stored" not in check.text()
    (gate / "open").touch()
    await stack.settle()
    assert "Data check stored as *E1*" in check.text()


async def test_non_finite_inputs_are_failed_attempts_and_huge_values_compare(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Odd values")
    ch = incident.channel_name
    await drv.share_file("erin", ch, "inf.csv", b"id,amount\n1,2.5\n2,-inf\n")
    huge = b"id,amount\n" + b"".join(b"%d,%r\n" % (i, v) for i, v in enumerate([1.7e308, 1e308, -1e308] * 20))
    await drv.share_file("erin", ch, "huge.csv", huge)
    await stack.settle()
    await failed_attempt(stack, incident, "datacheck baseline=huge.csv current=inf.csv",
                         "inf.csv, column `amount`, data row 2: `-inf` is not a finite number")
    done = await run(stack, "erin", ch, "datacheck baseline=huge.csv current=huge.csv key=id")
    assert "Data check stored as *E2*" in await settled(done, "stored as", "failed")
    e3 = (await items(stack, incident.id or 0))[-1]
    assert e3.artifact is not None
    report = json.loads(zipfile.ZipFile(io.BytesIO(e3.artifact)).read("datacheck-report.json"))
    assert float(report["features"][0]["mean_baseline"]) == pytest.approx(1.7e308 / 3, rel=1e-5)
