"""Data-check snapshots stream from Slack's file host into a private temporary file, hashed on the way: the bot
never holds a whole snapshot in memory, and the files go however a check ends."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import stat
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aiohttp import web

from bot.collectors import artifacts
from bot.collectors.datacheck import Snapshot
from bot.collectors.spool import Folder, Spool
from bot.collectors.tables import emptiness
from bot.config import Settings
from bot.deps import Deps
from bot.errors import CollectorError, RetroError
from bot.slack import snapshots
from storage.models import Evidence

BLOCK = bytes(range(256)) * 256  # 64 KiB, the file host's chunk
SIZE = 16 * 1024 * 1024


@dataclass
class FileHost:
    """A file host serving one file of SIZE bytes in 64 KiB writes; `stall` holds it after the first chunk."""

    url: str = ""
    stall: asyncio.Event | None = None
    sent: int = 0

    async def serve(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/csv", "Content-Length": str(SIZE)})
        await resp.prepare(request)
        for _ in range(SIZE // len(BLOCK)):
            await resp.write(BLOCK)
            self.sent += len(BLOCK)
            if self.stall is not None:
                await self.stall.wait()
        return resp


class Client:
    """What the download asks of Slack's Web API client: the token and files.info."""

    token = "xoxb-test"

    def __init__(self, url: str, size: int = SIZE) -> None:
        self._info = {"id": "F0BIG1234", "name": "big.csv", "mimetype": "text/csv", "size": size,
                      "url_private_download": url, "channels": ["C1"]}

    async def files_info(self, *, file: str) -> dict[str, Any]:
        return {"file": self._info}


@pytest.fixture
async def host() -> AsyncIterator[FileHost]:
    fh = FileHost()
    app = web.Application()
    app.router.add_get("/files-pri/T1-F0BIG1234/big.csv", fh.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fh.url = f"http://127.0.0.1:{port}/files-pri/T1-F0BIG1234/big.csv"
    yield fh
    if fh.stall is not None:
        fh.stall.set()
    await runner.cleanup()


def deps_for(fh: FileHost, **env: Any) -> Deps:
    settings = Settings.model_validate({"retro_file_hosts": fh.url.split("/files-pri")[0], **env})
    return cast(Deps, SimpleNamespace(settings=settings))


def expected_digest() -> str:
    digest = hashlib.sha256()
    for _ in range(SIZE // len(BLOCK)):
        digest.update(BLOCK)
    return digest.hexdigest()


async def test_a_download_streams_to_a_private_file_and_is_never_held_whole(host: FileHost) -> None:
    with Folder() as folder:
        tracemalloc.start()
        try:
            name, spooled = await snapshots.download(cast(Any, Client(host.url)), deps_for(host), "F0BIG1234",
                                                     "big.csv", "C1", folder)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < SIZE // 4, f"{peak:,} bytes held at once for a {SIZE:,}-byte file"
        assert (name, spooled.size, spooled.sha256) == ("big.csv", SIZE, expected_digest())
        assert stat.S_IMODE(spooled.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.path.stat().st_mode) == 0o700
        with spooled.path.open("rb") as f:
            assert f.read(len(BLOCK)) == BLOCK and spooled.path.stat().st_size == SIZE
    assert not spooled.path.exists() and not spooled.path.parent.exists()


async def test_a_download_past_the_cap_or_not_the_file_stops_and_its_file_goes(host: FileHost) -> None:
    deps = deps_for(host, retro_datacheck_max_bytes=1024 * 1024)
    with pytest.raises(CollectorError, match=r"big\.csv \(F0BIG1234\) is 16 MiB, more than the 1 MiB limit"), \
            Folder() as folder:
        where = folder.path
        await snapshots.download(cast(Any, Client(host.url)), deps, "F0BIG1234", "big.csv", "C1", folder)
    assert not where.exists() and host.sent == 0  # refused from files.info's size: nothing was fetched
    lying = Client(host.url, size=512 * 1024)  # files.info says less than the host sends
    with pytest.raises(CollectorError, match="bytes, but Slack lists the file as 524288 bytes"), Folder() as folder:
        where = folder.path
        await snapshots.download(cast(Any, lying), deps, "F0BIG1234", "big.csv", "C1", folder)
    assert not where.exists()


async def test_a_cancelled_download_leaves_no_file(host: FileHost) -> None:
    host.stall = asyncio.Event()
    seen: list[Path] = []

    async def check() -> None:
        with Folder() as folder:
            seen.append(folder.path)
            await snapshots.download(cast(Any, Client(host.url)), deps_for(host), "F0BIG1234", "big.csv", "C1",
                                     folder)

    task = asyncio.create_task(check())
    while not task.done() and not (seen and (seen[0] / "snapshot-0").exists()
                                   and (seen[0] / "snapshot-0").stat().st_size):
        await asyncio.sleep(0.01)  # polls until the first chunk is on disk; no time is asserted
    assert not task.done(), task  # a download stalled by its host is still running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not seen[0].exists()


def test_a_failure_while_spooling_removes_the_folder() -> None:
    with pytest.raises(CollectorError, match="too big"), Folder() as folder:
        w = folder.writer(cap=10, too_large="too big")
        w.write(b"12345")
        w.write(b"678901")
    assert not w.path.parent.exists()
    with pytest.raises(CollectorError, match="stopped"):
        w.write(b"x")  # a copy still running after its folder went stops at once


def test_a_copied_artifact_and_bytes_give_the_custody_line_bytes_gave(tmp_path: Path) -> None:
    data = b"id,x\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(200_000))
    src = tmp_path / "artifact.csv"
    src.write_bytes(data)
    with Folder() as folder:
        spooled = folder.writer(cap=len(data), too_large="").copy(src)
        from_file = Snapshot("E3", "a.csv", spooled, {"evidence": 3}).record()
        assert spooled.path.read_bytes() == data
    assert from_file == Snapshot("E3", "a.csv", data, {"evidence": 3}).record()
    assert from_file["sha256"] == hashlib.sha256(data).hexdigest() and from_file["size"] == len(data)
    assert isinstance(spooled, Spool) and not spooled.path.exists()


def parquet(rows: int) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array(list(range(rows)), pa.int64())}), out)
    return out.getvalue()


@pytest.mark.parametrize(("data", "why"), [
    (b"  \n", "`s.csv` is empty (3 bytes: no header and no rows)"),
    (b"\xef\xbb\xbfid;amount\n", "`s.csv` has a header (id, amount) but no data rows"),
    (gzip.compress(b"id,amount\n"), "`s.csv` has a header (id, amount) but no data rows"),
    (parquet(0), "`s.csv` is a Parquet file with no rows"),
    (b"id,amount\n1,2\n", None),
    (parquet(3), None),
    (gzip.compress(b"id\n" + b"1\n" * 1_000_000), None),
])
def test_emptiness_is_read_from_the_file(tmp_path: Path, data: bytes, why: str | None) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    assert emptiness("s.csv", path) == why


async def test_a_collected_artifact_is_copied_checked_and_capped(tmp_path: Path) -> None:
    settings = Settings(retro_artifacts_dir=tmp_path, retro_artifact_inline_max=1024,
                        retro_datacheck_max_bytes=64 * 1024)
    deps = cast(Deps, SimpleNamespace(settings=settings))
    data = b"id,x\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(2000))
    stored = artifacts.store(settings, data, media_type="text/csv")
    assert stored.path is not None  # kept as a file, not inline
    row = Evidence(incident_id=1, team_id="T1", number=3, kind="url", ref="https://x.example/a.csv", added_by="U1",
                   sha256="", artifact_path=stored.path,
                   custody={"artifact": stored.record(name="a.csv", media_type="text/csv")})
    small = Evidence(incident_id=1, team_id="T1", number=4, kind="url", ref="https://x.example/s.csv", added_by="U1",
                     sha256="", artifact=b"id\n1\n",
                     custody={"artifact": {"sha256": hashlib.sha256(b"id\n1\n").hexdigest()}})
    with Folder() as folder:
        spooled = await snapshots._artifact(deps, row, "E3", folder)
        assert (spooled.sha256, spooled.size, spooled.path.read_bytes()) == (stored.sha256, len(data), data)
        assert (await snapshots._artifact(deps, small, "E4", folder)).path.read_bytes() == b"id\n1\n"
    assert not spooled.path.parent.exists()
    (tmp_path / stored.path).write_bytes(data[:-2] + b"9\n")  # the file changed behind Retro's back
    with pytest.raises(RetroError, match="does not match its recorded SHA-256"), Folder() as folder:
        await snapshots._artifact(deps, row, "E3", folder)
    (tmp_path / stored.path).write_bytes(data * 10)
    with pytest.raises(CollectorError, match="E3 is larger than the 64 KiB limit"), Folder() as folder:
        await snapshots._artifact(deps, row, "E3", folder)
