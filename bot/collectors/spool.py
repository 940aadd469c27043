"""Snapshots kept on disk, never whole in memory: each is written chunk by chunk into a private temporary file,
hashed (SHA-256) as it is written and refused past a size cap. The folder holding them is removed when its `with`
block ends, however it ends (a result, an error, a cancelled task)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.errors import CollectorError

CHUNK = 1 << 20  # bytes copied at a time from a local file


@dataclass(frozen=True)
class Spool:
    """A snapshot written to disk: where, its SHA-256 and its size in bytes."""

    path: Path
    sha256: str
    size: int


class Aborted(CollectorError):
    """Written to after its folder was removed (the check was cancelled or failed)."""


class Writer:
    """One private file being written: `write(chunk)` hashes and appends, refused past `cap` bytes with
    `too_large`; `done()` gives the finished Spool."""

    def __init__(self, path: Path, *, cap: int, too_large: str) -> None:
        self.path = path
        self._cap = cap
        self._too_large = too_large
        self._hash = hashlib.sha256()
        self.size = 0
        self.aborted = False
        # O_EXCL: never an existing file or a link planted in its place; 0600: readable by this user alone.
        self._fh: BinaryIO = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")

    def write(self, chunk: bytes) -> None:
        if self.aborted:
            raise Aborted("The data check was stopped while a snapshot was being read.")
        self.size += len(chunk)
        if self.size > self._cap:
            raise CollectorError(self._too_large)
        self._hash.update(chunk)
        self._fh.write(chunk)

    def close(self) -> None:
        self._fh.close()

    def done(self) -> Spool:
        self.close()
        return Spool(self.path, self._hash.hexdigest(), self.size)

    def copy(self, source: Path) -> Spool:
        """Copy a local file in chunks (run it in a thread: it may be large)."""
        try:
            with source.open("rb") as f:
                while chunk := f.read(CHUNK):
                    self.write(chunk)
        finally:
            self.close()
        return self.done()


class Folder:
    """A private temporary folder (0700) of spooled snapshots, removed on exit with everything in it."""

    def __init__(self, prefix: str = "retro-datacheck-") -> None:
        self._prefix = prefix
        self._path: Path | None = None
        self._writers: list[Writer] = []

    def __enter__(self) -> Folder:
        self._path = Path(tempfile.mkdtemp(prefix=self._prefix))  # mkdtemp: mode 0700, a fresh name
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self._writers:
            w.aborted = True  # a copy still running in a thread stops at its next chunk
            w.close()
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("the folder is not open")
        return self._path

    def writer(self, *, cap: int, too_large: str) -> Writer:
        """A new file in this folder."""
        w = Writer(self.path / f"snapshot-{len(self._writers)}", cap=cap, too_large=too_large)
        self._writers.append(w)
        return w

    def put(self, data: bytes) -> Spool:
        """Bytes already in memory (tests, benches, small inline artifacts) written as a spool."""
        w = self.writer(cap=len(data), too_large="")
        w.write(data)
        return w.done()
