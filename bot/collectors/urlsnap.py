"""URL snapshots: a log, dashboard or config page fetched and kept (a Grafana dashboard with its JSON model), for
hosts in RETRO_FETCH_ALLOW only."""

from __future__ import annotations

import html
import re
from typing import ClassVar

from yarl import URL

from bot.collectors import grafana
from bot.collectors.artifacts import extension
from bot.collectors.base import Artifact, Collected, CollectEnv, CollectRequest
from bot.collectors.http import mib, redact
from bot.collectors.netguard import allowed_host, host_of
from bot.config import Settings
from bot.errors import CollectorError

_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def unwrap(ref: str) -> str:
    """The URL in a reference as Slack sends it (`<https://x?a=1&amp;b=2|label>` → `https://x?a=1&b=2`)."""
    text = ref.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].split("|", 1)[0]
    return html.unescape(text)


def parse_url(ref: str) -> URL | None:
    """The reference as an absolute http(s) URL, or None when it is not one."""
    try:
        url = URL(unwrap(ref))
    except ValueError:
        return None
    return url if url.scheme in ("http", "https") and url.absolute and url.raw_host else None


def file_name(url: URL, media_type: str) -> str:
    """A safe file name for the snapshot, ending in an extension that matches its media type."""
    stem = _NAME.sub("-", url.name.rsplit(".", 1)[0] if url.name else "").strip("-.")[:60] or host_of(url)
    return f"{stem}{extension(media_type, url.name)}"


class UrlSnapshotCollector:
    """Fetches the page behind a log, dashboard or config link."""

    name: ClassVar[str] = "url"
    version: ClassVar[str] = "1.1"  # 1.1: Grafana dashboard links also keep the JSON model
    kinds: ClassVar[frozenset[str]] = frozenset({"log", "dashboard", "config"})

    def accepts(self, request: CollectRequest, settings: Settings) -> bool:
        """An http(s) link whose host is in RETRO_FETCH_ALLOW (empty by default: links stay links)."""
        url = parse_url(request.ref)
        return url is not None and bool(settings.fetch_allow) and allowed_host(host_of(url), settings.fetch_allow)

    def describe(self, request: CollectRequest, settings: Settings) -> str:
        """What is being collected."""
        url = parse_url(request.ref)
        return f"a snapshot of {redact(url) if url else request.ref}"

    async def collect(self, request: CollectRequest, env: CollectEnv) -> Collected:
        """Fetch under the guard (allow-list, public addresses, checked redirects, size cap, timeout); for a Grafana
        dashboard link, also keep the dashboard's JSON model from the same host's API."""
        url = parse_url(request.ref)
        assert url is not None
        label = host_of(url)
        link = grafana.dashboard_link(url)
        async with env.http(trusted=False) as http:
            resp = await http.get(url, label=label, follow=True)
            if resp.status in (301, 302, 303, 307, 308):
                raise CollectorError(f"{label} answered a redirect without a usable Location.")
            if resp.status != 200:
                detail = f": {resp.excerpt(120)}" if resp.body else ""
                raise CollectorError(f"{redact(url)} answered HTTP {resp.status}{detail}")
            model = await grafana.fetch_model(http, link, env.settings) if link else None
        media = resp.media_type
        hops = f" after {len(resp.redirects)} redirect(s)" if resp.redirects else ""
        page = Artifact(file_name(URL(resp.url), media), media, resp.body)
        if model is not None and model.file is not None and page.name == model.file.name:
            page = Artifact(f"page-{page.name}", media, resp.body)
        metadata = {"url": resp.url, "status": resp.status, "redirects": list(resp.redirects),
                    "headers": resp.headers, "size": len(resp.body)}
        if model is not None:
            metadata["grafana"] = model.metadata
        summary = (f"{mib(len(resp.body)) if len(resp.body) >= 1024 else f'{len(resp.body)} bytes'} of {media} "
                   f"from {host_of(URL(resp.url))}{hops}")
        return Collected(
            files=(page,) if model is None or model.file is None else (page, model.file),
            source_url=resp.url,
            request={"method": "GET", "url": redact(url)},
            metadata=metadata,
            summary=" · ".join(w for w in (model.headline, summary, model.note) if w) if model else summary)
