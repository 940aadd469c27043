"""`/retro datacheck` over files shared in the incident channel."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.incident.evidence import reproduction_context
from bot.record import chain
from sandbox import CommandResult
from storage.models import Evidence, Incident
from tests.e2e.helpers import declare, run
from tests.unit.test_datacheck import rows, to_csv


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


async def test_datacheck_flags_the_drifted_feature_and_keeps_the_report(stack: LocalStack) -> None:
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
    repro = reproduction_context([e1, e2])
    assert f"today.csv@sha256:{sha_today}" in repro["datasets"] and f"train.csv@sha256:{sha_train}" in repro["datasets"]
    async with stack.deps.session() as s:
        inc = await s.get(Incident, incident.id)
        assert inc is not None and (await chain.verify_incident(s, inc)).ok


async def test_datacheck_failures_are_recorded_and_usage_errors_are_not(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Broken export")
    ch = incident.channel_name
    good = await drv.share_file("erin", ch, "good.csv", to_csv(rows(50, seed=1)))
    await drv.share_file("erin", ch, "blob.bin", b"\x00\x01binary")
    await stack.settle()

    usage = await run(stack, "erin", ch, "datacheck baseline=E1")
    assert "Name both snapshots" in usage.text()
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
