"""`/retro datacheck` streams each snapshot into a private temporary file that its worker reads, and removes the
files however the check ends: a report, a failed attempt, a cancelled task. The custody keeps the same digests."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.local import LocalStack
from bot.collectors import spool
from bot.collectors.comparison import Thresholds
from bot.slack import snapshots
from bot.slack.snapshots import DataCheck
from tests.e2e.helpers import declare, run
from tests.e2e.test_collectors_datacheck import gate, items, settled, until  # noqa: F401 (gate: a fixture)
from tests.unit.test_datacheck import rows, to_csv


@pytest.fixture
def folders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Every temporary folder a data check opens, in order."""
    opened: list[Path] = []
    enter = spool.Folder.__enter__

    def recorded(self: spool.Folder) -> spool.Folder:
        enter(self)
        opened.append(self.path)
        return self

    monkeypatch.setattr(spool.Folder, "__enter__", recorded)
    yield opened


async def test_snapshots_are_private_files_the_worker_reads_and_are_gone_after(
        stack: LocalStack, gate: Path, folders: list[Path]) -> None:  # noqa: F811
    incident, _ = await declare(stack, "Spooled")
    ch = incident.channel_name
    a, b = to_csv(rows(300, seed=1)), to_csv(rows(300, seed=2))
    await stack.driver.share_file("erin", ch, "a.csv", a)
    await stack.driver.share_file("erin", ch, "b.csv", b)
    await stack.settle()
    check = await stack.driver.command("erin", ch, "datacheck baseline=a.csv current=b.csv")
    await until((gate / "started").exists, "the check never reached its worker")
    held = sorted(folders[0].iterdir())
    assert [p.read_bytes() for p in held] == [a, b]  # what the worker reads: the streamed files
    assert stat.S_IMODE(folders[0].stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in held} == {0o600}
    (gate / "open").touch()
    await stack.settle()
    assert "Data check stored as *E1*" in check.text()
    assert not folders[0].exists()
    inputs = (await items(stack, incident.id or 0))[-1].custody["metadata"]["inputs"]
    assert [(inputs[s]["sha256"], inputs[s]["size"]) for s in ("baseline", "current")] == [
        (hashlib.sha256(a).hexdigest(), len(a)), (hashlib.sha256(b).hexdigest(), len(b))]


async def test_a_failed_check_leaves_no_file(stack: LocalStack, folders: list[Path]) -> None:
    incident, _ = await declare(stack, "Odd values")
    ch = incident.channel_name
    await stack.driver.share_file("erin", ch, "inf.csv", b"id,amount\n1,2.5\n2,-inf\n")
    await stack.settle()
    reply = await settled(await run(stack, "erin", ch, "datacheck baseline=inf.csv current=inf.csv"),
                          "failed attempt", "stored as")
    assert "not a finite number" in reply and len(folders) == 1 and not folders[0].exists()  # one folder, gone


async def test_a_cancelled_check_leaves_no_file(stack: LocalStack, gate: Path,  # noqa: F811
                                               folders: list[Path]) -> None:
    incident, _ = await declare(stack, "Cancelled")
    await stack.driver.share_file("erin", incident.channel_name, "a.csv", to_csv(rows(50, seed=1)))
    await stack.settle()
    asked = DataCheck("a.csv", "a.csv", [], Thresholds(), "usage")

    async def queued(place: int) -> None:
        raise AssertionError(f"queued at {place} with every worker free")

    task = asyncio.create_task(snapshots.run(stack.bolt.client, stack.deps, incident, asked, actor="U_ERIN",
                                             on_queued=queued))
    await until((gate / "started").exists, "the check never reached its worker")
    assert len(folders) == 1 and len(list(folders[0].iterdir())) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not folders[0].exists()
