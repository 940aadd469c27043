"""Where collected artifacts live: in the database up to RETRO_ARTIFACT_INLINE_MAX, else in RETRO_ARTIFACTS_DIR.

Files are content-addressed (`<sha[:2]>/<sha256>.<ext>`), written atomically, and always re-verified against the
SHA-256 recorded in the evidence item's custody when read back.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bot.collectors.base import Artifact
from bot.config import Settings
from bot.errors import NotFoundError, RetroError
from storage.models import Evidence

_SAFE_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
EXTENSIONS = {"application/json": ".json", "text/csv": ".csv", "image/png": ".png", "application/zip": ".zip",
              "text/markdown": ".md", "text/plain": ".txt", "text/html": ".html"}


@dataclass(frozen=True)
class Stored:
    """Where an artifact went: `inline` bytes for the row, or a path relative to the artifacts folder."""

    sha256: str
    size: int
    inline: bytes | None
    path: str | None

    def record(self, *, name: str, media_type: str) -> dict[str, Any]:
        """The custody record's `artifact` part."""
        where: dict[str, Any] = {"stored": "database"} if self.path is None else {"stored": "file", "path": self.path}
        return {"name": name, "media_type": media_type, "size": self.size, "sha256": self.sha256, **where}


def store_info(f: Artifact) -> dict[str, Any]:
    """The custody line of one member of a bundle."""
    digest = hashlib.sha256(f.data).hexdigest()
    return {"name": f.name, "media_type": f.media_type, "size": len(f.data), "sha256": digest}


def extension(media_type: str, name: str = "") -> str:
    """A safe file extension for a media type (or the name's own)."""
    ext = EXTENSIONS.get(media_type) or Path(name).suffix.lower() or mimetypes.guess_extension(media_type) or ".bin"
    return ext if _SAFE_EXT.match(ext) else ".bin"


def _install(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file atomically: a private temporary file in the target's folder, synced, then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def input_path(settings: Settings, sha256: str) -> Path:
    """Where a kept analysis input lives: `inputs/<sha[:2]>/<sha256>` in the artifacts folder."""
    if not _SHA.match(sha256):
        raise RetroError("An input digest must be 64 hexadecimal digits.")
    return settings.retro_artifacts_dir / "inputs" / sha256[:2] / sha256


def keep_input(settings: Settings, source: Path, sha256: str, size: int) -> bool:
    """Keep a file an analysis read (a data check's snapshot) under its digest, unless it is over
    RETRO_KEEP_INPUTS_MAX_BYTES; True when it is kept (already or now). The caller hashed it while reading it."""
    if size > settings.retro_keep_inputs_max_bytes:
        return False
    target = input_path(settings, sha256)
    if target.is_file() and target.stat().st_size == size:
        return True

    def copy(out: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)

    _install(target, copy)
    return True


def store(settings: Settings, data: bytes, *, media_type: str, name: str = "") -> Stored:
    """Keep small artifacts inline; write larger ones to the artifacts folder (idempotent by digest)."""
    sha = hashlib.sha256(data).hexdigest()
    if len(data) <= settings.retro_artifact_inline_max:
        return Stored(sha, len(data), data, None)
    rel = f"{sha[:2]}/{sha}{extension(media_type, name)}"
    target = settings.retro_artifacts_dir / rel
    if not (target.is_file() and target.stat().st_size == len(data)):
        _install(target, lambda fh: fh.write(data))
    return Stored(sha, len(data), None, rel)


def located(settings: Settings, item: Evidence) -> bytes | Path:
    """Where an evidence item's artifact is: its inline bytes, or its file inside the artifacts folder (not read)."""
    if item.artifact is not None:
        return item.artifact
    if item.artifact_path:
        base = settings.retro_artifacts_dir.resolve()
        path = (base / item.artifact_path).resolve()
        if base not in path.parents:
            raise RetroError(f"E{item.number}: the artifact path points outside the artifacts folder.")
        if not path.is_file():
            raise NotFoundError(f"E{item.number}: its artifact file is missing from the artifacts folder.")
        return path
    raise NotFoundError(f"E{item.number} has no stored artifact.")


def recorded_sha256(item: Evidence) -> str | None:
    """The SHA-256 its custody recorded for an evidence item's artifact."""
    return ((item.custody or {}).get("artifact") or {}).get("sha256")


def mismatch(item: Evidence) -> RetroError:
    """The error of an artifact that no longer matches its recorded digest."""
    return RetroError(f"E{item.number}: the stored artifact does not match its recorded SHA-256.")


def load(settings: Settings, item: Evidence) -> bytes:
    """The artifact of an evidence item, verified against its recorded SHA-256."""
    where = located(settings, item)
    data = where if isinstance(where, bytes) else where.read_bytes()
    expected = recorded_sha256(item)
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise mismatch(item)
    return data
