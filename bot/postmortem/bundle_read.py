"""Reading the files of a bundle that came from outside: confined to its folder, size-capped, one-line errors.

Every path a bundle names stays inside its folder (no absolute path, no `..`, no link that leads out), every file is
a regular file whose size is checked before it is read, and what is wrong is a BundleError naming the file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

# What a bundle file may weigh before it is read: the document is parsed in memory, the others are only hashed.
MAX_TEXT_BYTES = 1024 * 1024  # MANIFEST, SIGNATURE
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_FILE_BYTES = 512 * 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class BundleError(Exception):
    """A bundle cannot be read at all (no folder, no MANIFEST, an unreadable or malformed file, a path that leaves
    the bundle, a file over its size limit)."""


def shown(name: str) -> str:
    """A name as error messages show it: quoted, and cut short when long."""
    return repr(name if len(name) <= 80 else name[:77] + "...")


def inside(folder: Path, name: str) -> Path:
    """The path of a file the bundle names, refused when it would leave the bundle's folder."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BundleError(f"{shown(name)} has a control character in its name")
    pure = PurePosixPath(name)
    if pure.is_absolute() or "\\" in name or ".." in pure.parts or _DRIVE.match(name):
        raise BundleError(f"{shown(name)} is outside the bundle (an absolute path or one through ..)")
    path = folder / pure
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise BundleError(f"{shown(name)} cannot be followed (a link loop, or a name the file system refuses)") \
            from None
    if not real.is_relative_to(folder.resolve()):
        raise BundleError(f"{shown(name)} is a link to a path outside the bundle")
    return path


def regular_file(folder: Path, name: str, limit: int) -> Path | None:
    """A bundle file's path once it is known to be a regular file inside the bundle of at most `limit` bytes
    (None when there is no such file)."""
    path = inside(folder, name)
    try:
        if not path.exists():
            return None
        if not path.is_file():
            raise BundleError(f"{name} is not a regular file")
        size = path.stat().st_size
    except OSError as exc:
        raise BundleError(f"{shown(name)} cannot be read: {exc.strerror}") from None
    if size > limit:
        raise BundleError(f"{name} is {size} bytes, over the {limit}-byte limit for it")
    return path


def read_capped(folder: Path, name: str, limit: int) -> bytes | None:
    """A bundle file's bytes, at most `limit` of them (None when it does not exist)."""
    path = regular_file(folder, name, limit)
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise BundleError(f"{shown(name)} cannot be read: {exc.strerror}") from None
    if len(data) > limit:
        raise BundleError(f"{name} grew past the {limit}-byte limit for it while it was read")
    return data


def read_text(folder: Path, name: str) -> str | None:
    """A small text file of the bundle (MANIFEST, SIGNATURE), or None when it does not exist."""
    data = read_capped(folder, name, MAX_TEXT_BYTES)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{name} is not UTF-8 text") from None


def file_sha256(folder: Path, name: str) -> str | None:
    """The SHA-256 of a bundle file, read in pieces (None when it does not exist)."""
    path = regular_file(folder, name, MAX_FILE_BYTES)
    if path is None:
        return None
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
    except OSError as exc:
        raise BundleError(f"{shown(name)} cannot be read: {exc.strerror}") from None
    return digest.hexdigest()
