"""Text the database cannot hold, over real HTTP: one poisonous event fails alone and never its batch; NUL in
events and in typed text is stored escaped under the digest of what was said, and every chain still verifies."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app.local import LocalStack
from bot.app.offline import verify_database
from bot.canonical import sha256_hex
from bot.postmortem import document, export
from bot.record.ingest import IngestQueue
from storage.models import ActionItem, Evidence, Hypothesis, Incident
from tests.e2e.deliveries import message, writer_held
from tests.e2e.faults import chain_texts, until, verifies
from tests.e2e.helpers import declare, entries, run

NUL = "\x00"


async def test_a_poisonous_event_fails_alone_and_its_batch_is_recorded(
        stack: LocalStack, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="retro.ingest")
    incident, _ = await declare(stack, "Poisoned batch drill", options="sev=3 type=infrastructure")
    await stack.settle()
    queue, emu, channel = stack.deps.get(IngestQueue), stack.emulator, incident.channel_id
    first = message("EvPOISONFIRST", 0, channel, "the first words")
    rest = [message(f"EvPOISONGOOD{n}", n, channel, f"good words {n}") for n in range(1, 4)]
    rest.append(message("EvPOISONNUL", 4, channel, f"precision fell 5% at{NUL}14:05"))
    rest.append(message("EvPOISONLONE", 5, channel, "half an emoji \ud83d"))  # no UTF-8 form: it cannot be digested
    rest += [message(f"EvPOISONGOOD{n}", n, channel, f"good words {n}") for n in range(6, 9)]
    before = len(await entries(stack, incident.id or 0))

    async with writer_held(database_url, incident.id or 0):
        held = asyncio.create_task(emu.deliver_raw(first))
        await until(lambda: queue.writing == 1, "the first event to be taken by the writer")
        posts = [asyncio.create_task(emu.deliver_raw(p)) for p in rest]
        await until(lambda: queue.waiting == len(rest), "the others to queue behind it, as one batch")
    statuses = await asyncio.gather(held, *posts)

    assert statuses == [200] * (1 + len(rest))  # none gets a 500, so Slack retries none of them
    assert any(f"ingest batch of {len(rest)} refused" in r.getMessage() for r in caplog.records)
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refusals) == 1 and "'EvPOISONLONE'" in refusals[0] and "not recorded" in refusals[0]
    texts = await chain_texts(stack, incident.id or 0)
    for n in (1, 2, 3, 6, 7, 8):
        assert texts[f"good words {n}"] == 1
    assert texts["the first words"] == 1 and texts["precision fell 5%25 at%0014:05"] == 1
    assert not any("emoji" in t for t in texts)
    stored = {e.slack_ts: e for e in await entries(stack, incident.id or 0)}
    assert stored["1700100004.000100"].text_sha256 == sha256_hex(f"precision fell 5% at{NUL}14:05")
    assert await verifies(stack, incident.id or 0)
    assert await verify_database(stack.settings, incident.channel_name) == 0  # `retro verify`

    # Slack delivers everything again: nothing is recorded twice, nothing is lost, nothing gets a 500.
    again = await asyncio.gather(*(emu.deliver_raw(p, retry_num=1) for p in [first, *rest]))
    assert set(again) == {200}
    assert len(await entries(stack, incident.id or 0)) == before + 1 + len(rest) - 1
    assert await verifies(stack, incident.id or 0)


async def test_nul_typed_in_commands_is_stored_escaped_and_everything_verifies(
        stack: LocalStack, tmp_path: Path) -> None:
    incident, _ = await declare(stack, f"Scores{NUL} drifted", options="sev=3 type=data-drift")
    ch = f"#{incident.channel_name}"
    note = await run(stack, "alice", ch, f"note rolled back{NUL} at 14:05")
    assert "Noted as key event" in note.text()
    await run(stack, "alice", ch, f"hypothesis the ETL{NUL} nulled a feature")
    await run(stack, "alice", ch, f"evidence log https://logs.example.com/q?id=9 spike{NUL} at 14:10")
    await run(stack, "alice", ch, f"action Alert on{NUL} null rate owner=@bob due=+1w kind=monitor")
    await stack.settle()

    async with stack.deps.session() as s:
        row = await s.get(Incident, incident.id)
        hypothesis = (await s.exec(select(Hypothesis).where(Hypothesis.incident_id == incident.id))).one()
        evidence = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).one()
        action = (await s.exec(select(ActionItem).where(ActionItem.incident_id == incident.id))).one()
    assert row is not None and row.title == "Scores%00 drifted"
    assert hypothesis.statement == "the ETL%00 nulled a feature"
    assert evidence.note == "spike%00 at 14:10"
    assert action.title == "Alert on%00 null rate"
    chained = [e for e in await entries(stack, incident.id or 0) if e.kind == "note"]
    assert [e.text for e in chained] == ["rolled back%00 at 14:05"]
    assert chained[0].text_sha256 == sha256_hex(f"rolled back{NUL} at 14:05")
    assert await verifies(stack, incident.id or 0)
    assert await verify_database(stack.settings, incident.channel_name) == 0
    async with stack.deps.session() as s:
        people: dict[str, str] = {}
        doc = await document.build(s, row, catalog=stack.deps.catalog, people=people)
    export.write_bundle(stack.deps.templates, doc, tmp_path / "bundle")
    report = export.verify_bundle(tmp_path / "bundle")
    assert report.ok, report
