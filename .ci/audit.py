"""Audit the locked dependency set: the lock holds what pyproject.toml declares, and no pin has a known advisory.

Advisories come from the online service (PyPI's, through pip-audit) when it answers, and always from the vendored
facts in .ci/ (a PyPA advisory-database snapshot and curated entries); a pin that no source covers fails the audit,
and so does an online service that answers "not found": silence is never a pass.
Exit status: 0 clean, 1 a pin is affected, unchecked or outside pyproject.toml, 2 an input cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from advisory_facts import AuditError, Facts, load_facts, normalize, version_of
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
SNAPSHOT = ROOT / ".ci" / "advisories.json"
CURATED = ROOT / ".ci" / "advisories_curated.json"
LOCK_PYTHON = "3.11"
ONLINE_TIMEOUT = 180.0
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")

# argv -> (exit status, stdout, stderr)
Runner = Callable[[Sequence[str]], tuple[int, str, str]]


@dataclass(frozen=True)
class Pin:
    """One `name==version` line of the lock."""

    name: str
    version: Version


@dataclass(frozen=True)
class Finding:
    """An advisory that affects a pin: every name it goes by, how to show it, and the version that fixes it."""

    names: frozenset[str]
    label: str
    fixed_in: str


@dataclass(frozen=True)
class Online:
    """What the online service said: the pins it answered for and what it found, or why it did not answer."""

    answered: frozenset[str]
    found: dict[str, list[Finding]]
    note: str


def read_lock(path: Path) -> dict[str, Pin]:
    """Every pin of the lock by normalized name; anything but comments and exact pins is an error."""
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.fullmatch(line)
        if match is None:
            raise AuditError(f"{path.name}:{number}: {line!r} is not an exact pin (name==version)")
        name, text = match.groups()
        if normalize(name) in pins:
            raise AuditError(f"{path.name}:{number}: {name} is pinned twice")
        pins[normalize(name)] = Pin(name, version_of(text, f"{path.name}:{number}"))
    if not pins:
        raise AuditError(f"{path.name} pins nothing")
    return pins


def declared(path: Path) -> list[tuple[str, Requirement]]:
    """Every requirement of pyproject.toml with where it is declared: `runtime` or the name of its extra."""
    try:
        project = tomllib.loads(path.read_text())["project"]
        groups = {"runtime": project.get("dependencies", []), **project.get("optional-dependencies", {})}
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise AuditError(f"{path.name}: no readable [project] table ({exc!r})") from None
    found = []
    for group, specs in groups.items():
        for spec in specs:
            try:
                found.append((group, Requirement(spec)))
            except InvalidRequirement as exc:
                raise AuditError(f"{path.name}: {spec!r} in {group}: {exc}") from None
    return found


def lock_problems(pins: dict[str, Pin], pyproject: Path) -> list[str]:
    """Why the lock does not hold what pyproject.toml declares for Python 3.11; empty when it does."""
    problems = []
    for group, req in declared(pyproject):
        extra = "" if group == "runtime" else group
        if req.marker is not None and not req.marker.evaluate({"python_version": LOCK_PYTHON, "extra": extra}):
            continue
        pin = pins.get(normalize(req.name))
        if pin is None:
            problems.append(f"{req.name} ({group}) is declared in {pyproject.name} but not pinned: run make lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{pin.name}=={pin.version} is outside {req.name}{req.specifier} ({group}): run make lock")
    return problems


def run(argv: Sequence[str]) -> tuple[int, str, str]:
    """Run a command within the online timeout."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=ONLINE_TIMEOUT, check=False)
    return done.returncode, done.stdout, done.stderr


def online_finding(vuln: dict[str, Any]) -> Finding:
    """A vulnerability as pip-audit's JSON report gives it."""
    aliases = [a for a in vuln.get("aliases", []) if a != vuln["id"]]
    label = vuln["id"] + (f" ({', '.join(aliases)})" if aliases else "")
    return Finding(frozenset([vuln["id"], *aliases]), label, ", ".join(vuln.get("fix_versions", [])) or "no fix")


def ask_online(lock: Path, runner: Runner) -> Online:
    """Ask PyPI's advisory service about every pin through pip-audit. Only a package it looked up counts as
    answered: "not found", a network error or a missing tool is no answer, never a clean one."""
    argv = [sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--no-deps", "--disable-pip",
            "--format", "json", "--progress-spinner", "off", "--timeout", "15"]
    try:
        status, out, err = runner(argv)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Online(frozenset(), {}, f"did not answer ({exc})")
    try:
        dependencies = json.loads(out)["dependencies"]
        answered = [d for d in dependencies if isinstance(d.get("vulns"), list)]
        found = {normalize(d["name"]): [online_finding(v) for v in d["vulns"]] for d in answered if d["vulns"]}
        skipped = [str(d["skip_reason"]) for d in dependencies if "skip_reason" in d]
    except (ValueError, KeyError, TypeError, AttributeError):
        last = (err.strip().splitlines() or ["no output"])[-1]
        return Online(frozenset(), {}, f"gave no report (exit {status}: {last[:200]})")
    note = f"answered for {len(answered)} of {len(dependencies)} pins" + (f" ({skipped[0]}, …)" if skipped else "")
    return Online(frozenset(normalize(d["name"]) for d in answered), found, note)


def findings(pins: dict[str, Pin], sources: Sequence[Facts], online: Online) -> dict[str, list[Finding]]:
    """The advisories affecting each pin, vendored and online; one that several sources know (by id or alias) once."""
    found: dict[str, list[Finding]] = {}
    for key, pin in pins.items():
        hits = [Finding(a.names(), a.label(), a.fixed_after(pin.version))
                for facts in sources for a in facts.advisories.get(key, []) if a.affects(pin.version)]
        unique: list[Finding] = []
        for hit in [*hits, *online.found.get(key, [])]:
            if not any(hit.names & kept.names for kept in unique):
                unique.append(hit)
        if unique:
            found[key] = unique
    return found


def audit(lock: Path, pyproject: Path, facts: Sequence[Path], runner: Runner | None,
          today: date) -> tuple[int, list[str]]:
    """The audit's exit status and report; a `runner` of None leaves the online service out."""
    pins = read_lock(lock)
    sources = [load_facts(path) for path in facts]
    out = [f"lock: {lock.name}, {len(pins)} pins for Python {LOCK_PYTHON}"]
    problems = lock_problems(pins, pyproject)
    out += [f"LOCK {p}" for p in problems] or [f"lock: holds every requirement of {pyproject.name}"]
    online = ask_online(lock, runner) if runner else Online(frozenset(), {}, "not asked (--offline)")
    complete = online.answered >= pins.keys()
    verdict = "used" if complete else "unavailable, not counted as a pass" if runner else "left out"
    out.append(f"online: PyPI through pip-audit {online.note}: {verdict}")
    out += [f"vendored: {path.name}: {f.origin} ({(today - f.as_of).days} days old)"
            for path, f in zip(facts, sources, strict=True)]
    out.append("advisories: " + ("PyPI and the vendored facts" if complete else "the vendored facts only"))
    covered = frozenset().union(*(f.covered for f in sources))
    unchecked = sorted(pins[k].name for k in pins.keys() - online.answered - covered)
    out += [f"UNCHECKED {name}: no source covers it (refresh the snapshot: make advisories)" for name in unchecked]
    found = findings(pins, sources, online)
    for key, hits in sorted(found.items()):
        out += [f"AFFECTED {pins[key].name}=={pins[key].version}: {h.label}, fixed in {h.fixed_in}" for h in hits]
    failed = bool(problems or unchecked or found)
    out.append(f"result: {'FAIL' if failed else 'ok'}: {sum(map(len, found.values()))} advisories affect the pins, "
               f"{len(problems)} lock problems, {len(unchecked)} unchecked pins")
    return int(failed), out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python .ci/audit.py [--offline] [--lock …] [--pyproject …] [--facts …]`."""
    parser = argparse.ArgumentParser(description="Audit the lock against pyproject.toml and known advisories.")
    parser.add_argument("--lock", type=Path, default=LOCK)
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    parser.add_argument("--facts", type=Path, nargs="+", default=[SNAPSHOT, CURATED], help="vendored advisory files")
    parser.add_argument("--offline", action="store_true", help="do not ask the online service")
    args = parser.parse_args(argv)
    try:
        status, lines = audit(args.lock, args.pyproject, args.facts, None if args.offline else run, date.today())
    except (AuditError, OSError) as exc:
        print(f"audit: cannot audit: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
