"""The vendored advisory facts: their file format, and OSV's rule for whether a version is affected.

A file holds, per package (PEP 503 name), advisories as `{"id", "aliases", "ranges", "versions"}`: each range a list
of OSV ECOSYSTEM events (`introduced`, `fixed`, `last_affected`), `versions` an explicit list. The database snapshot
(.ci/advisories.json, written by advisories_from_osv.py) also names the database commit and date and lists every
package it looked up (`covered`); the curated file (.ci/advisories_curated.json, kept by hand) has an `updated` date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

EVENTS = ("introduced", "fixed", "last_affected")


class AuditError(Exception):
    """An input the audit cannot trust; the message names the file, the place and the reason."""


@dataclass(frozen=True)
class Advisory:
    """The facts of one advisory for one package: its ids and the versions it affects."""

    id: str
    aliases: tuple[str, ...]
    ranges: tuple[tuple[tuple[str, Version], ...], ...]
    versions: frozenset[Version]

    def names(self) -> frozenset[str]:
        """The id and every alias."""
        return frozenset({self.id, *self.aliases})

    def label(self) -> str:
        """The id, with the aliases in parentheses."""
        return self.id + (f" ({', '.join(self.aliases)})" if self.aliases else "")

    def affects(self, version: Version) -> bool:
        """Whether this version is listed or inside one of the ranges."""
        return version in self.versions or any(in_range(version, events) for events in self.ranges)

    def fixed_after(self, version: Version) -> str:
        """The first fixed version above this one, as a hint."""
        above = sorted(bound for events in self.ranges for kind, bound in events if kind == "fixed" and bound > version)
        return str(above[0]) if above else "no fix"


@dataclass(frozen=True)
class Facts:
    """One vendored file: the packages it covers, their advisories, where the facts come from and their date."""

    covered: frozenset[str]
    advisories: dict[str, list[Advisory]]
    origin: str
    as_of: date


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_of(text: object, where: str) -> Version:
    """A PEP 440 version, or an AuditError naming where the bad one was."""
    try:
        return Version(str(text))
    except InvalidVersion:
        raise AuditError(f"{where}: {text!r} is not a version") from None


def in_range(version: Version, events: Sequence[tuple[str, Version]]) -> bool:
    """OSV's rule for one range: walking its events in version order, `introduced` opens it, `fixed` closes it from
    that version on, `last_affected` closes it after that version."""
    affected = False
    for kind, bound in sorted(events, key=lambda event: event[1]):
        if kind == "introduced" and version >= bound:
            affected = True
        elif (kind == "fixed" and version >= bound) or (kind == "last_affected" and version > bound):
            affected = False
    return affected


def parse_advisory(raw: dict[str, Any], where: str) -> Advisory:
    """One advisory of a vendored file, every event kind and version checked."""
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident:
        raise AuditError(f"{where}: an advisory without an id")
    ranges = []
    for events in raw.get("ranges", []):
        parsed = []
        for event in events:
            if not isinstance(event, dict) or len(event) != 1 or next(iter(event)) not in EVENTS:
                raise AuditError(f"{where} {ident}: {event!r} is not one of {', '.join(EVENTS)}")
            [(kind, text)] = event.items()
            parsed.append((kind, version_of(text, f"{where} {ident}")))
        ranges.append(tuple(parsed))
    versions = frozenset(version_of(v, f"{where} {ident}") for v in raw.get("versions", []))
    if not ranges and not versions:
        raise AuditError(f"{where} {ident}: neither ranges nor versions")
    return Advisory(ident, tuple(raw.get("aliases", [])), tuple(ranges), versions)


def load_facts(path: Path) -> Facts:
    """A vendored file: the database snapshot or the curated entries."""
    try:
        data = json.loads(path.read_text())
        if data.get("format") != 1:
            raise AuditError(f"{path.name}: unknown format {data.get('format')!r}")
        advisories = {
            normalize(name): [parse_advisory(raw, f"{path.name} {name}") for raw in entries]
            for name, entries in data["advisories"].items()
        }
        if source := data.get("database"):
            as_of = date.fromisoformat(source["date"])
            origin = f"{source['name']} at {source['commit'][:12]} of {as_of}, extracted {data['made']}"
        else:
            as_of = date.fromisoformat(data["updated"])
            origin = f"curated entries, updated {as_of}"
        covered = frozenset(normalize(n) for n in data.get("covered", []))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditError(f"{path.name}: not an advisory file ({exc!r})") from None
    return Facts(covered, advisories, origin, as_of)


def dump(head: dict[str, Any], advisories: dict[str, list[dict[str, Any]]]) -> str:
    """A vendored file's text: one advisory per line, so that a refresh reads as a short diff."""
    lines = ["{", *(f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()), ' "advisories": {']
    blocks = [f"  {json.dumps(name)}: [\n" + ",\n".join(f"   {json.dumps(e, sort_keys=True)}" for e in entries)
              + "\n  ]" for name, entries in sorted(advisories.items())]
    return "\n".join([*lines, ",\n".join(blocks), " }", "}", ""])
