"""A small aiohttp client for collectors: timeouts, size caps, clear errors, and (for pasted URLs) the fetch guard."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from bot.collectors.netguard import FetchRefused, GuardedResolver, check_literal, check_url
from bot.errors import CollectorError

USER_AGENT = "Retro (incident evidence collector)"
KEPT_HEADERS = ("content-type", "content-length", "content-encoding", "etag", "last-modified", "date")
REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5


def redact(url: str | URL) -> str:
    """A URL fit for the record: no user name or password."""
    u = url if isinstance(url, URL) else URL(url)
    return str(u.with_user(None)) if u.user or u.password else str(u)


def mib(n: int) -> str:
    """A byte count as MiB for messages."""
    return f"{n / (1024 * 1024):.3g} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


@dataclass(frozen=True)
class Response:
    """A complete, size-capped HTTP response."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: tuple[str, ...] = ()

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters (application/octet-stream when absent)."""
        raw = self.headers.get("content-type", "application/octet-stream")
        return raw.split(";", 1)[0].strip().lower()[:100] or "application/octet-stream"

    def excerpt(self, limit: int = 200) -> str:
        """The start of the body as text, for error messages."""
        return " ".join(self.body[: limit * 4].decode("utf-8", "replace").split())[:limit]

    def json(self, label: str) -> Any:
        """The body parsed as JSON, or a clear error naming the source."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise CollectorError(f"{label} did not answer with JSON (HTTP {self.status}: {self.excerpt(120)})") \
                from None


class Http:
    """One client session. Guarded (allow is a tuple of host globs) or trusted (allow None, an operator's URL)."""

    def __init__(self, *, timeout: float, max_bytes: int, allow: tuple[str, ...] | None, allow_private: bool,
                 headers: dict[str, str] | None = None) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow = allow
        self.allow_private = allow_private
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._session: aiohttp.ClientSession | None = None

    @property
    def guarded(self) -> bool:
        """Whether the fetch policy applies (pasted URLs) rather than trust (configured endpoints)."""
        return self.allow is not None

    async def __aenter__(self) -> Http:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_private=self.allow_private) if self.guarded else None,
            use_dns_cache=False, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False, headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(10.0, self.timeout)))
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, url: str | URL, *, label: str, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None, follow: bool = False,
                  max_bytes: int | None = None) -> Response:
        """GET, following redirects only when `follow` (each hop re-checked in guarded mode)."""
        target = URL(url) if isinstance(url, str) else url
        if params:
            target = target.update_query(params)
        hops: list[str] = []
        while True:
            resp = await self._once("GET", target, label=label, headers=headers, max_bytes=max_bytes)
            location = resp.headers.get("location")
            if not follow or resp.status not in REDIRECTS or not location:
                return Response(resp.url, resp.status, resp.headers, resp.body, tuple(hops))
            if len(hops) >= MAX_REDIRECTS:
                raise CollectorError(f"{label} redirected more than {MAX_REDIRECTS} times.")
            hops.append(redact(target))
            nxt = target.join(URL(location))
            try:
                self._precheck(nxt)
            except FetchRefused as exc:
                raise FetchRefused(f"{label} redirected to {redact(nxt)}, which is refused: {exc.user_message}") \
                    from None
            target = nxt

    async def post_json(self, url: str | URL, payload: dict[str, Any], *, label: str,
                        headers: dict[str, str] | None = None) -> Response:
        """POST a JSON body (no redirects)."""
        target = URL(url) if isinstance(url, str) else url
        return await self._once("POST", target, label=label, headers=headers, max_bytes=None, body=payload)

    async def stream(self, url: str | URL, *, label: str, sink: Callable[[bytes], object], cap: int,
                     too_large: str, headers: dict[str, str] | None = None) -> Response:
        """GET without redirects; a 200 body goes chunk by chunk into `sink` (never held whole; refused with
        `too_large` when it declares more than `cap` bytes), any other answer is returned with its body capped."""
        target = URL(url) if isinstance(url, str) else url
        self._precheck(target)
        assert self._session is not None, "use `async with Http(...)`"
        with _failures(label, target, self.timeout):
            async with self._session.get(target, headers=headers, allow_redirects=False) as r:
                kept = {k.lower(): r.headers[k] for k in KEPT_HEADERS if k in r.headers}
                if r.status != 200:
                    return Response(redact(target), r.status, kept, await r.content.read(65536))
                if r.content_length is not None and r.content_length > cap:
                    raise CollectorError(too_large)
                async for chunk in r.content.iter_chunked(65536):
                    sink(chunk)
                return Response(redact(target), r.status, kept, b"")

    def _precheck(self, url: URL) -> None:
        if self.guarded:
            check_url(url, self.allow)
            check_literal(url, allow_private=self.allow_private)
        elif url.scheme not in ("http", "https"):
            raise FetchRefused(f"Only http and https addresses are fetched, not `{url.scheme or '?'}:`.")

    async def _once(self, method: str, url: URL, *, label: str, headers: dict[str, str] | None,
                    max_bytes: int | None, body: dict[str, Any] | None = None) -> Response:
        assert self._session is not None, "use `async with Http(...)`"
        self._precheck(url)
        cap = max_bytes or self.max_bytes
        with _failures(label, url, self.timeout):
            async with self._session.request(method, url, headers=headers, json=body, allow_redirects=False) as r:
                declared = r.content_length
                if declared is not None and declared > cap:
                    raise CollectorError(f"{label} answered {mib(declared)}, more than the {mib(cap)} limit.")
                chunks: list[bytes] = []
                size = 0
                async for chunk in r.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > cap:
                        raise CollectorError(f"{label} answered more than the {mib(cap)} limit.")
                    chunks.append(chunk)
                kept = {k: r.headers[k] for k in (*KEPT_HEADERS, "location") if k in r.headers}
                return Response(redact(url), r.status, {k.lower(): v for k, v in kept.items()}, b"".join(chunks))


@contextmanager
def _failures(label: str, url: URL, timeout: float) -> Iterator[None]:
    """aiohttp's errors as CollectorErrors naming the source."""
    try:
        yield
    except TimeoutError:
        raise CollectorError(f"{label} did not answer within {timeout:g} s.") from None
    except aiohttp.ClientConnectorDNSError:
        raise CollectorError(f"{label}: could not resolve {url.host}.") from None
    except aiohttp.ClientConnectorError as exc:
        raise CollectorError(f"{label}: could not connect to {url.host}:{url.port} "
                             f"({exc.os_error.strerror or exc.os_error}).") from None
    except aiohttp.ClientError as exc:
        raise CollectorError(f"{label}: the request failed ({type(exc).__name__}: {exc}).") from None
