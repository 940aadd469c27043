"""`Http.stream`: a download written chunk by chunk into a spool file, refused past its cap, errors answered."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.collectors.http import Http
from bot.collectors.spool import Folder
from bot.errors import CollectorError
from tests.local_web import serving

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/declared":
            return web.Response(body=BODY)
        if request.path == "/chunked":  # no Content-Length: only counting the bytes can stop it
            resp = web.StreamResponse()
            await resp.prepare(request)
            for i in range(0, len(BODY), 1000):
                await resp.write(BODY[i:i + 1000])
            await resp.write_eof()
            return resp
        return web.json_response({"error_code": "RESOURCE_DOES_NOT_EXIST"}, status=404)

    async with serving(handle) as url:
        yield url


def client() -> Http:
    return Http(timeout=5.0, max_bytes=1024, allow=None, allow_private=True)


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
async def test_a_body_within_the_cap_is_spooled_and_hashed_whatever_the_client_cap(server: str, path: str) -> None:
    with Folder() as folder:
        out = folder.writer(cap=len(BODY), too_large="too large")
        async with client() as http:
            resp = await http.stream(f"{server}{path}", label="test", sink=out.write, cap=len(BODY),
                                     too_large="too large")
        spooled = out.done()
        assert resp.status == 200 and resp.body == b""
        assert spooled.sha256 == hashlib.sha256(BODY).hexdigest() and spooled.path.read_bytes() == BODY


async def test_a_declared_size_past_the_cap_is_refused_before_any_byte(server: str) -> None:
    with Folder() as folder:
        out = folder.writer(cap=4096, too_large="writer refused")
        async with client() as http:
            with pytest.raises(CollectorError, match="declared too large"):
                await http.stream(f"{server}/declared", label="test", sink=out.write, cap=4096,
                                  too_large="declared too large")
        assert out.size == 0


async def test_an_undeclared_body_stops_at_the_chunk_past_the_cap(server: str) -> None:
    with Folder() as folder:
        out = folder.writer(cap=4096, too_large="writer refused")
        async with client() as http:
            with pytest.raises(CollectorError, match="writer refused"):
                await http.stream(f"{server}/chunked", label="test", sink=out.write, cap=4096, too_large="unused")
        out.close()
        assert out.path.stat().st_size <= 4096 < out.size  # the chunk past the cap was counted, never written


async def test_an_error_answer_is_returned_with_its_body_and_nothing_written(server: str) -> None:
    written: list[bytes] = []
    async with client() as http:
        resp = await http.stream(f"{server}/missing", label="test", sink=written.append, cap=4096, too_large="x")
    assert resp.status == 404 and b"RESOURCE_DOES_NOT_EXIST" in resp.body and written == []
