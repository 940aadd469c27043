"""Server-side request forgery defence for fetching URLs people paste.

A URL is fetched only when its host matches the RETRO_FETCH_ALLOW globs, and every address the host resolves to
is public (or private with RETRO_FETCH_ALLOW_PRIVATE). The check runs inside the HTTP client's resolver, so the
connection goes to exactly the addresses that were checked (no second lookup an attacker's DNS could answer
differently). Link-local addresses, which include cloud metadata services, are refused even when private
addresses are allowed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from fnmatch import fnmatchcase

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.errors import CollectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NUMERIC = re.compile(r"(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}")
_DOTTED_QUAD = re.compile(r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254",
                                                "100.100.100.200")}


class FetchRefused(CollectorError):
    """A URL or address the fetch policy does not allow."""


def host_of(url: URL) -> str:
    """The URL's host as matched against the allow-list: lowercase, IDNA-encoded, without a trailing dot."""
    return (url.raw_host or "").lower().rstrip(".")


def allowed_host(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether a host matches one of the allow-list globs (`*.example.com`, `grafana.internal`)."""
    host = host.lower().rstrip(".")
    return any(fnmatchcase(host, p) for p in patterns)


def check_url(url: URL, patterns: tuple[str, ...] | None) -> None:
    """Refuse schemes other than http(s), embedded credentials and hosts off the allow-list (None: any host)."""
    if url.scheme not in ("http", "https"):
        raise FetchRefused(f"Only http and https addresses are fetched, not `{url.scheme or '?'}:`.")
    if url.user is not None or url.password is not None:
        raise FetchRefused("Addresses with embedded credentials are not fetched.")
    host = host_of(url)
    if not host:
        raise FetchRefused("The address has no host.")
    if patterns is not None and not allowed_host(host, patterns):
        raise FetchRefused(f"{host} is not in RETRO_FETCH_ALLOW.")


def _embedded_v4(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def refusal(address: str, *, allow_private: bool) -> str | None:
    """Why an address must not be contacted, or None when it may be."""
    try:
        ip = _embedded_v4(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return "not an IP address"
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified or ip.is_multicast:
        return "not a unicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_loopback:
        return None if allow_private else "a loopback address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return None if allow_private else "a private address"
    return None


def check_address(host: str, address: str, *, allow_private: bool) -> None:
    """Raise FetchRefused when `address` (which `host` resolved to) is not allowed."""
    why = refusal(address, allow_private=allow_private)
    if why is not None:
        shown = host if host == address else f"{host} ({address})"
        hint = (" Set RETRO_FETCH_ALLOW_PRIVATE=true only if such hosts are meant to be fetched."
                if why in ("a loopback address", "a private address") else "")
        raise FetchRefused(f"Refused to fetch from {shown}: it is {why}.{hint}")


def check_literal(url: URL, *, allow_private: bool) -> None:
    """Check a host given as an IP literal (the HTTP client connects to those without asking the resolver)."""
    host = host_of(url).strip("[]")
    if _NUMERIC.fullmatch(host) and not _DOTTED_QUAD.fullmatch(host):
        raise FetchRefused(f"`{host}` is a numeric host form other than a dotted quad; it is not fetched.")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return
    check_address(host, host, allow_private=allow_private)


class GuardedResolver(ThreadedResolver):
    """Resolves like the default resolver, then refuses the host if ANY of its addresses is not allowed."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """Resolve and check every address; the connection is made only to the returned (checked) ones."""
        results = await super().resolve(host, port, family)
        if not results:
            raise FetchRefused(f"{host} did not resolve to any address.")
        for r in results:
            check_address(host, r["host"], allow_private=self.allow_private)
        return results
