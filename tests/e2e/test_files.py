"""Shared files over signed HTTP: the bot token goes only to Slack's file hosts, a download must be the file, and an
acked file is hashed exactly once, whoever gets to it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from sqlmodel import select

from bot.app.local import LocalStack
from bot.record import pending_files
from bot.slack.hashing import finish_pending
from storage.models import Evidence, Incident, PendingFileHash
from tests.e2e.helpers import declare, entries, run

DATA = b"feature,psi\nage,0.31\nincome,0.02\n"


class OutsideHost:
    """An HTTP server that is not Slack: it records every request it gets and answers each with a file."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Serve on a free loopback port; returns the address of its one document."""
        async def serve(request: web.Request) -> web.Response:
            self.requests.append(dict(request.headers))
            return web.Response(body=DATA, content_type="text/csv")

        app = web.Application()
        app.router.add_get("/{tail:.*}", serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/document/d/1e8Ltkv/export?format=csv"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def outside() -> AsyncIterator[OutsideHost]:
    """A host outside Slack that files may point at."""
    host = OutsideHost()
    await host.start()
    yield host
    await host.stop()


async def hashed(stack: LocalStack, incident: Incident) -> list[dict[str, Any]]:
    """The data of every file_hashed entry of the incident."""
    assert incident.id is not None
    return [e.data for e in await entries(stack, incident.id) if e.kind == "file_hashed"]


async def test_an_external_file_is_recorded_by_reference_and_never_fetched(stack: LocalStack,
                                                                           outside: OutsideHost) -> None:
    incident, _ = await declare(stack, "Drift in the churn model")
    channel = incident.channel_name
    file_id = await stack.driver.share_external_file("alice", channel, "Feature audit", outside.url)
    await stack.settle()
    assert outside.requests == []  # no token sent there: no request at all
    (data,) = await hashed(stack, incident)
    assert data["file"] == {"id": file_id, "name": "Feature audit", "external_type": "gdrive",
                            "external_url": outside.url}
    assert data["external"] is True and "sha256" not in data and "127.0.0.1" in data["error"]
    result = await run(stack, "alice", channel, f"evidence file {file_id} the audit")
    assert "external file" in result.text() and "does not download it" in result.text(), result.text()
    await stack.settle()
    assert outside.requests == []
    async with stack.deps.session() as s:
        assert (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).all() == []
        rows = (await s.exec(select(PendingFileHash))).all()
    assert [(r.file_id, r.status) for r in rows] == [(file_id, "done")]


async def test_a_sign_in_page_is_not_hashed_as_the_file(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Drift in the churn model")
    stack.emulator.hosted.refuse_tokens = True
    await stack.driver.share_file("alice", incident.channel_name, "psi.csv", DATA)
    await stack.settle()
    (data,) = await hashed(stack, incident)
    assert "sha256" not in data and "web page" in data["error"] and "sign-in page" in data["error"]


async def test_a_redirected_download_is_not_followed(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Drift in the churn model")
    stack.emulator.hosted.cdn_redirect = True
    await stack.driver.share_file("alice", incident.channel_name, "psi.csv", DATA)
    await stack.settle()
    (data,) = await hashed(stack, incident)
    assert "sha256" not in data and "redirected (HTTP 302" in data["error"], data


@pytest.mark.parametrize("served", [DATA + b"extra,0.5\n", DATA[:-8]], ids=["longer", "shorter"])
async def test_a_download_of_another_size_than_slack_lists_is_not_hashed(stack: LocalStack, served: bytes) -> None:
    incident, _ = await declare(stack, "Drift in the churn model")
    file_id = await stack.driver.share_file("alice", incident.channel_name, "psi.csv", DATA)
    stack.emulator.state.files[file_id].content = served  # what the host serves no longer is what files.info lists
    await stack.settle()
    (data,) = await hashed(stack, incident)
    assert "sha256" not in data and f"lists the file as {len(DATA)} bytes" in data["error"], data


async def test_a_shared_file_is_hashed_once_by_the_listener_or_a_replica(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Drift in the churn model")
    emulator = stack.emulator
    emulator.ratelimit(1, retry_after=0.5, methods={"files.info"})  # hold everyone before the download
    file_id = await stack.driver.share_file("alice", incident.channel_name, "psi.csv", DATA)
    await until(lambda: emulator.call_count("files.info", include_ratelimited=True) >= 1)  # the listener waits
    # Another replica's first pass takes the row over while the listener is still on it.
    replica = asyncio.create_task(finish_pending(stack.bolt.client, stack.deps, worker="replica-b", every=True))
    while await statuses(stack) != [pending_files.CLAIMED]:
        await asyncio.sleep(0.01)
    emulator.ratelimit(None)
    assert await replica == 1
    await stack.settle()
    assert emulator.hosted.served == [file_id, file_id]  # both downloaded it
    (data,) = await hashed(stack, incident)  # one of them chained it
    assert data["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert await statuses(stack) == [pending_files.DONE]


async def statuses(stack: LocalStack) -> list[str]:
    """The status of every pending-hash row."""
    async with stack.deps.session() as s:
        return [r.status for r in (await s.exec(select(PendingFileHash))).all()]


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `check()` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
