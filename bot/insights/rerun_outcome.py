"""What a re-run of a recorded analysis comes to (reproduced, differs, source unavailable), where it reads its inputs
and recorded artifacts, and the helpers every kind of re-run builds its outcome with (bot/insights/rerun.py and
bot/insights/rerun_live.py share them)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.config import Settings
from bot.insights.analyses import Analysis, output_digest, versions

REPRODUCED = "reproduced"
DIFFERS = "differs"
UNAVAILABLE = "source unavailable"
# Exit status of `retro rerun`: the worst outcome decides.
EXIT = {REPRODUCED: 0, UNAVAILABLE: 3, DIFFERS: 4}
MAX_DETAIL = 12  # lines of difference shown per analysis


@dataclass(frozen=True)
class Rerun:
    """One analysis run again: its outcome, the lines that say why, both digests, and the new output."""

    number: int
    kind: str
    outcome: str
    detail: list[str]
    recorded_sha256: str
    new_sha256: str | None = None
    output: Any = None
    versions: dict[str, str] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """The outcome as chainable data (no output: it is kept as an artifact beside it)."""
        return {"evidence": self.number, "kind": self.kind, "outcome": self.outcome, "detail": self.detail,
                "recorded_sha256": self.recorded_sha256, "new_sha256": self.new_sha256, "versions": self.versions}


class Sources(Protocol):
    """Where a re-run finds what it reads: kept inputs by digest, and the evidence items' stored artifacts."""

    def input_file(self, sha256: str) -> Path | None:
        """Where the input kept as this SHA-256 is (not checked: the re-run hashes what it reads), or None."""

    def artifact(self, number: int) -> bytes | None:
        """The stored artifact of evidence E<number> (checked against its recorded digest), or None."""


MAX_MEMBER = 256 * 1024 * 1024  # the largest member of a stored artifact a re-run reads


def member(artifact: bytes | None, name: str) -> bytes | None:
    """A file inside a stored artifact: the artifact itself when it is not a ZIP, else the member of that name."""
    if artifact is None:
        return None
    if not artifact.startswith(b"PK\x03\x04"):
        return artifact
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as zf:
            info = next((i for i in zf.infolist() if i.filename == name), None)
            # an artifact from outside (a bundle) may claim anything: a member over the cap is not read
            return zf.read(info) if info is not None and info.file_size <= MAX_MEMBER else None
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError, NotImplementedError):
        return None


def json_member(artifact: bytes | None, name: str) -> Any:
    """A JSON member of a stored artifact, parsed (None when absent or unreadable)."""
    data = member(artifact, name)
    try:
        return None if data is None else json.loads(data)
    except ValueError:
        return None


def outcome_of(a: Analysis, output: Any, differences: Callable[[], list[str]]) -> Rerun:
    """Reproduced when the new output has the recorded digest, else differs with the lines `differences` gives
    (and the versions that changed since, which often explain it)."""
    digest, now = output_digest(output), versions(a.kind)
    if digest == a.output_sha256:
        return Rerun(a.number, a.kind, REPRODUCED, [], a.output_sha256, digest, output, now)
    lines = differences()[:MAX_DETAIL] or ["the output differs, though none of the figures compared moved"]
    moved = a.version_changes(now)
    if moved:
        lines.append("versions since the recorded run: " + "; ".join(moved))
    return Rerun(a.number, a.kind, DIFFERS, lines, a.output_sha256, digest, output, now)


def unavailable(a: Analysis, why: str) -> Rerun:
    """An analysis that could not run again, and why."""
    return Rerun(a.number, a.kind, UNAVAILABLE, [why], a.output_sha256, None, None, versions(a.kind))


Runner = Callable[[Analysis, Sources, Settings], Awaitable[Rerun]]
