"""The fetch guard: allow-list, address checks pinned in the resolver, checked redirects, size caps, timeouts."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from yarl import URL

from bot.collectors.base import CollectEnv, CollectRequest
from bot.collectors.http import Http
from bot.collectors.netguard import FetchRefused, allowed_host, refusal
from bot.collectors.urlsnap import UrlSnapshotCollector, file_name, parse_url, unwrap
from bot.config import Settings
from bot.errors import CollectorError
from tests.local_web import serving


@pytest.mark.parametrize(("address", "private_ok", "why"), [
    ("8.8.8.8", False, None), ("2606:4700:4700::1111", False, None),
    ("127.0.0.1", False, "a loopback address"), ("::1", False, "a loopback address"),
    ("10.1.2.3", False, "a private address"), ("172.16.0.1", False, "a private address"),
    ("192.168.1.1", False, "a private address"), ("100.64.0.1", False, "a private address"),
    ("fd12::1", False, "a private address"), ("::ffff:10.0.0.1", False, "a private address"),
    ("169.254.169.254", False, "a cloud metadata address"), ("169.254.169.254", True, "a cloud metadata address"),
    ("fd00:ec2::254", True, "a cloud metadata address"), ("64:ff9b::a9fe:a9fe", True, "a cloud metadata address"),
    ("2002:a9fe:a9fe::", True, "a cloud metadata address"), ("::ffff:169.254.169.254", True,
                                                              "a cloud metadata address"),
    ("169.254.10.10", True, "a link-local address"), ("fe80::1", True, "a link-local address"),
    ("0.0.0.0", True, "not a unicast address"), ("224.0.0.1", True, "not a unicast address"),
    ("127.0.0.1", True, None), ("10.1.2.3", True, None), ("::ffff:127.0.0.1", True, None),
])
def test_address_policy(address: str, private_ok: bool, why: str | None) -> None:
    assert refusal(address, allow_private=private_ok) == why


def test_allow_list_globs_match_hosts_exactly() -> None:
    patterns = ("*.example.com", "grafana.internal", "127.0.0.1")
    assert allowed_host("logs.example.com", patterns) and allowed_host("A.B.Example.COM.", patterns)
    assert not allowed_host("example.com", patterns) and not allowed_host("evilexample.com", patterns)
    assert allowed_host("grafana.internal", patterns) and not allowed_host("grafana.internal.evil.io", patterns)
    assert not allowed_host("127.0.0.10", patterns) and not allowed_host("anything", ())


def test_slack_formatted_links_unwrap_and_only_http_urls_count() -> None:
    assert unwrap("<https://logs.example.com/q?a=1&amp;b=2|the logs>") == "https://logs.example.com/q?a=1&b=2"
    url = parse_url("<http://127.0.0.1:8080/var/app.log>")
    assert url is not None and url.port == 8080
    assert parse_url("file:///etc/passwd") is None and parse_url("ftp://x/y") is None
    assert parse_url("logs.example.com/x") is None and parse_url("not a url") is None
    assert file_name(URL("https://h.example.com/a/b/app.log"), "text/plain") == "app.txt"
    assert file_name(URL("https://h.example.com/"), "text/html") == "h.example.com.html"


@dataclass
class Target:
    """A loopback server counting every request it receives."""

    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target("")

    async def handle(request: web.Request) -> web.StreamResponse:
        t.hits.append(request.path)
        if request.path == "/app.log":
            return web.Response(text="14:10 ERROR scorer timeout\n", content_type="text/plain")
        if request.path == "/to-log":
            raise web.HTTPFound("/app.log")
        if request.path == "/to-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if request.path == "/to-elsewhere":
            raise web.HTTPFound("http://elsewhere.invalid/secret")
        if request.path == "/loop":
            raise web.HTTPFound("/loop")
        if request.path == "/big":
            return web.Response(body=b"x" * 5000)
        if request.path == "/streamed":
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(10):
                await resp.write(b"y" * 1000)
            await resp.write_eof()
            return resp
        if request.path == "/bomb":
            return web.Response(body=gzip.compress(b"\0" * 1_000_000), headers={"Content-Encoding": "gzip"})
        if request.path == "/slow":
            await asyncio.sleep(3)
            return web.Response(text="late")
        return web.Response(status=404, text="no such page")

    async with serving(handle) as t.url:
        yield t


def env(**settings: object) -> CollectEnv:
    return CollectEnv(settings=Settings.model_validate({"retro_fetch_max_bytes": 4096, "retro_fetch_timeout": 1.0,
                                                        **settings}),
                      now=datetime.now(UTC), requested_by="U1")


async def snap(url: str, e: CollectEnv) -> str:
    request = CollectRequest("log", url)
    collector = UrlSnapshotCollector()
    assert collector.accepts(request, e.settings)
    out = await collector.collect(request, e)
    return out.files[0].data.decode()


async def test_nothing_is_fetched_without_an_allow_list_entry(target: Target) -> None:
    collector = UrlSnapshotCollector()
    assert not collector.accepts(CollectRequest("log", f"{target.url}/app.log"), env().settings)
    assert not collector.accepts(CollectRequest("log", f"{target.url}/app.log"),
                                 env(retro_fetch_allow="*.example.com").settings)
    assert target.hits == []


async def test_loopback_is_refused_by_default_even_when_allow_listed(target: Target) -> None:
    with pytest.raises(FetchRefused, match="127.0.0.1: it is a loopback address"):
        await snap(f"{target.url}/app.log", env(retro_fetch_allow="127.0.0.1"))
    port = URL(target.url).port
    with pytest.raises(FetchRefused, match="localhost \\(127.0.0.1\\): it is a loopback address"):
        await snap(f"http://localhost:{port}/app.log", env(retro_fetch_allow="localhost"))
    for numeric in ("2130706433", "0x7f000001", "127.1", "0177.0.0.1"):
        with pytest.raises(FetchRefused, match="numeric host form"):
            await snap(f"http://{numeric}:{port}/app.log", env(retro_fetch_allow="*"))
    with pytest.raises(FetchRefused, match="loopback"):
        await snap(f"http://[::ffff:127.0.0.1]:{port}/app.log", env(retro_fetch_allow="*"))
    assert target.hits == []


async def test_cloud_metadata_is_refused_even_with_private_addresses_allowed(target: Target) -> None:
    allow_all = env(retro_fetch_allow="*", retro_fetch_allow_private=True)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/latest/meta-data/"):
        with pytest.raises(FetchRefused, match="cloud metadata address"):
            await snap(url, allow_all)
    with pytest.raises(FetchRefused, match="redirected to http://169.254.169.254/latest/meta-data/, which is refused"):
        await snap(f"{target.url}/to-metadata", allow_all)
    assert target.hits == ["/to-metadata"]


async def test_redirects_are_followed_only_within_the_allow_list(target: Target) -> None:
    e = env(retro_fetch_allow="127.0.0.1", retro_fetch_allow_private=True)
    assert await snap(f"{target.url}/to-log", e) == "14:10 ERROR scorer timeout\n"
    with pytest.raises(FetchRefused, match="elsewhere.invalid is not in RETRO_FETCH_ALLOW"):
        await snap(f"{target.url}/to-elsewhere", e)
    with pytest.raises(CollectorError, match="redirected more than 5 times"):
        await snap(f"{target.url}/loop", e)
    with pytest.raises(FetchRefused, match="embedded credentials"):
        await snap(f"http://user:secret@127.0.0.1:{URL(target.url).port}/app.log", e)
    assert "/app.log" in target.hits and not any(h == "/secret" for h in target.hits)


async def test_size_caps_hold_for_declared_streamed_and_compressed_bodies(target: Target) -> None:
    e = env(retro_fetch_allow="127.0.0.1", retro_fetch_allow_private=True)
    for path in ("/big", "/streamed", "/bomb"):
        with pytest.raises(CollectorError, match="4 KiB limit"):
            await snap(f"{target.url}{path}", e)
    with pytest.raises(CollectorError, match="did not answer within 1 s"):
        await snap(f"{target.url}/slow", e)
    with pytest.raises(CollectorError, match="answered HTTP 404: no such page"):
        await snap(f"{target.url}/missing", e)


async def test_a_snapshot_records_what_was_fetched(target: Target) -> None:
    e = env(retro_fetch_allow="127.0.0.1", retro_fetch_allow_private=True)
    out = await UrlSnapshotCollector().collect(CollectRequest("log", f"<{target.url}/to-log>"), e)
    (f,) = out.files
    assert (f.name, f.media_type) == ("app.txt", "text/plain")
    assert out.source_url == f"{target.url}/app.log" and out.metadata["redirects"] == [f"{target.url}/to-log"]
    assert out.metadata["status"] == 200 and out.metadata["size"] == len(f.data)
    assert out.request == {"method": "GET", "url": f"{target.url}/to-log"}


async def test_trusted_clients_skip_the_allow_list_but_not_the_scheme_check() -> None:
    async with Http(timeout=1, max_bytes=1024, allow=None, allow_private=True) as http:
        with pytest.raises(FetchRefused, match="Only http and https"):
            await http.get("file:///etc/passwd", label="test")
