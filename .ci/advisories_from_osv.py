"""Extract the advisory facts the audit needs from a clone of pypa/advisory-database into .ci/advisories.json.

For every package pinned in the lock: each advisory's id, its aliases and the PyPI ECOSYSTEM ranges it affects
(introduced / fixed / last_affected events), or its explicit version list when it has no such range. Withdrawn
advisories are left out, and so is all prose. The clone may be bare; only its HEAD is read:

    git clone --bare https://github.com/pypa/advisory-database /tmp/advisory-database
    make advisories ADVISORY_DB=/tmp/advisory-database
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from advisory_facts import EVENTS, dump, normalize
from audit import LOCK, SNAPSHOT, read_lock


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run git on the database clone and return its output."""
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True).stdout


def files_by_package(repo: Path, wanted: set[str]) -> dict[str, list[str]]:
    """The blob ids of `vulns/<package>/*.yaml` at HEAD for the wanted packages, by normalized package name."""
    found: dict[str, list[str]] = {}
    for line in git(repo, "ls-tree", "-r", "HEAD", "vulns").decode().splitlines():
        meta, path = line.split("\t", 1)
        parts = path.split("/")
        if len(parts) == 3 and parts[2].endswith(".yaml") and normalize(parts[1]) in wanted:
            found.setdefault(normalize(parts[1]), []).append(meta.split()[2])
    return found


def read_blobs(repo: Path, ids: list[str]) -> list[str]:
    """The contents of these blobs, in one `git cat-file --batch`."""
    out = git(repo, "cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode())
    texts, at = [], 0
    for _ in ids:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        texts.append(out[header_end + 1:header_end + 1 + size].decode())
        at = header_end + 1 + size + 1
    return texts


def facts(doc: dict[str, Any], package: str) -> dict[str, Any] | None:
    """The id, aliases and affected versions of one OSV document for one package; None when withdrawn or when it
    names no version of that package."""
    if doc.get("withdrawn"):
        return None
    ranges: list[list[dict[str, str]]] = []
    versions: list[str] = []
    for affected in doc.get("affected", []):
        named = affected.get("package", {})
        if named.get("ecosystem") != "PyPI" or normalize(named.get("name", "")) != package:
            continue
        found = [[{kind: value} for event in r.get("events", []) for kind, value in event.items() if kind in EVENTS]
                 for r in affected.get("ranges", []) if r.get("type") == "ECOSYSTEM"]
        ranges += found
        if not found:
            versions += affected.get("versions", [])
    if not ranges and not versions:
        return None
    entry: dict[str, Any] = {"id": doc["id"], "aliases": sorted(doc.get("aliases", []))}
    if ranges:
        entry["ranges"] = ranges
    if versions:
        entry["versions"] = sorted(set(versions))
    return entry


def main(argv: list[str] | None = None) -> int:
    """Command line: `python .ci/advisories_from_osv.py DATABASE [--lock …] [--out …]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("database", type=Path, help="a clone of pypa/advisory-database (bare or not)")
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--out", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    wanted = set(read_lock(args.lock))
    commit, day = git(args.database, "log", "-1", "--format=%H %cs", "HEAD").decode().split()
    advisories: dict[str, list[dict[str, Any]]] = {}
    for package, blobs in sorted(files_by_package(args.database, wanted).items()):
        # BaseLoader keeps every scalar a string: an unquoted 1.10 stays "1.10", never the float 1.1
        docs = [yaml.load(text, Loader=yaml.BaseLoader) for text in read_blobs(args.database, blobs)]
        entries = [e for e in (facts(doc, package) for doc in docs) if e is not None]
        if entries:
            advisories[package] = sorted(entries, key=lambda e: e["id"])
    head = {"format": 1, "made": date.today().isoformat(),
            "database": {"name": "pypa/advisory-database", "commit": commit, "date": day}, "covered": sorted(wanted)}
    args.out.write_text(dump(head, advisories))
    count = sum(len(v) for v in advisories.values())
    print(f"{args.out.name}: {count} advisories for {len(advisories)} of {len(wanted)} pinned packages "
          f"(database {commit[:12]} of {day})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
