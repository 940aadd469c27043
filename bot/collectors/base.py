"""The collector interface: a reference and options in, an artifact and structured metadata out (no Slack here)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from bot.collectors.http import Http
from bot.config import Settings

JSON_TYPE = "application/json"
ZIP_TYPE = "application/zip"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CollectRequest:
    """What a person asked for: `/retro evidence <kind> <ref> [options]`."""

    kind: str
    ref: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CollectEnv:
    """What a collector may use: settings, an HTTP client factory with the right guards, the time, who asked."""

    settings: Settings
    now: datetime
    requested_by: str

    def http(self, *, trusted: bool) -> Http:
        """An HTTP client: `trusted` for operator-configured endpoints, else guarded by RETRO_FETCH_ALLOW."""
        s = self.settings
        return Http(timeout=s.retro_fetch_timeout, max_bytes=s.retro_fetch_max_bytes,
                    allow=None if trusted else s.fetch_allow, allow_private=trusted or s.retro_fetch_allow_private)


@dataclass(frozen=True)
class Artifact:
    """One collected file."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Collected:
    """The outcome of one collection.

    `files` are stored as one artifact (a single file as-is, several as a ZIP bundle); `metadata` is a small
    JSON-safe summary (no floats: format numbers as strings) kept in the custody record; `options` are evidence
    options the collection resolved (e.g. `model=fraud@3`, `sha=<git commit>`); `summary` is one line for people;
    a `chart` (one of the files) is posted in the incident channel with `caption` under it.
    """

    files: tuple[Artifact, ...]
    source_url: str
    request: dict[str, Any]
    metadata: dict[str, Any]
    summary: str
    options: dict[str, str] = field(default_factory=dict)
    chart: Artifact | None = None
    caption: str = ""
    analysis: dict[str, Any] | None = None  # the pinned record of what was computed (bot/insights/analyses.py)

    def artifact(self) -> Artifact:
        """The single artifact to store: the file itself, or a deterministic ZIP of all files."""
        if len(self.files) == 1:
            return self.files[0]
        return Artifact(bundle_name(self.files), ZIP_TYPE, bundle(self.files))


def bundle_name(files: tuple[Artifact, ...]) -> str:
    """A name for the bundle of several files, from the first one."""
    stem = files[0].name.rsplit(".", 1)[0] if files else "artifact"
    return f"{stem}.zip"


def bundle(files: tuple[Artifact, ...]) -> bytes:
    """A ZIP of the files with fixed timestamps and permissions, so equal content gives equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            info = zipfile.ZipInfo(f.name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.data)
    return buf.getvalue()


@runtime_checkable
class Collector(Protocol):
    """A source of evidence. Register implementations under the `retro.collectors` entry-point group.

    `accepts` must be cheap and offline (it only looks at the request and the settings); `collect` fetches and
    raises `bot.errors.CollectorError` with a message a person can act on when the source fails.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[str]]

    def accepts(self, request: CollectRequest, settings: Settings) -> bool:
        """Whether this collector handles the request with the current configuration."""
        ...

    def describe(self, request: CollectRequest, settings: Settings) -> str:
        """What is about to be collected, e.g. `model fraud@3 from MLflow` (shown while collecting)."""
        ...

    async def collect(self, request: CollectRequest, env: CollectEnv) -> Collected:
        """Fetch and return the artifact with its metadata."""
        ...
