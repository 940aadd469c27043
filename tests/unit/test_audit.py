"""The dependency audit (.ci/audit.py) and its advisory snapshot generator, and the dependency policy they enforce."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / ".ci"


def load(name: str) -> ModuleType:
    """A module of .ci/ (a folder of scripts, not a package), registered under its own name as the scripts do."""
    spec = importlib.util.spec_from_file_location(name, CI / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


facts_mod = load("advisory_facts")
audit_mod = load("audit")

# PYSEC-2024-24 as the PyPA database has it: aiohttp from 1.0.5 up to (not including) 3.9.2.
TRAVERSAL = {"id": "PYSEC-2024-24", "aliases": ["CVE-2024-23334", "GHSA-5h86-8mv2-jq9f"],
             "ranges": [[{"introduced": "1.0.5"}, {"fixed": "3.9.2"}]]}
# pip-audit's report when PyPI's JSON API is not served, as seen on this network.
NOT_FOUND = json.dumps({"dependencies": [
    {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited: aiohttp (3.9.1)"},
    {"name": "yarl", "skip_reason": "Dependency not found on PyPI and could not be audited: yarl (1.25.1)"},
], "fixes": []})


def world(tmp_path: Path, pins: str, *, advisories: dict[str, list[dict[str, object]]] | None = None,
          covered: Sequence[str] = ("aiohttp", "yarl"), requires: Sequence[str] = ("aiohttp>=3",),
          dev: Sequence[str] = ()) -> list[str]:
    """A lock, a pyproject.toml and a snapshot in tmp_path; the audit's arguments for them."""
    (tmp_path / "constraints.txt").write_text(f"# a lock\n{pins}\n")
    (tmp_path / "pyproject.toml").write_text(  # JSON string arrays are TOML arrays
        f"[project]\nname = 'x'\ndependencies = {json.dumps(list(requires))}\n"
        f"[project.optional-dependencies]\ndev = {json.dumps(list(dev))}\n")
    head = {"format": 1, "made": "2026-12-01", "covered": list(covered),
            "database": {"name": "pypa/advisory-database", "commit": "3ccb612573e2" + "0" * 28, "date": "2024-10-10"}}
    (tmp_path / "advisories.json").write_text(facts_mod.dump(head, advisories or {"aiohttp": [TRAVERSAL]}))
    return ["--lock", str(tmp_path / "constraints.txt"), "--pyproject", str(tmp_path / "pyproject.toml"),
            "--facts", str(tmp_path / "advisories.json")]


def cli(args: Sequence[str], **env: str) -> subprocess.CompletedProcess[str]:
    """Run .ci/audit.py as CI does, in a subprocess."""
    return subprocess.run([sys.executable, str(CI / "audit.py"), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False)


def answering(out: str) -> audit_mod.Runner:
    """A stand-in for pip-audit that prints this report."""
    return lambda argv: (0, out, "")


def timing_out(argv: Sequence[str]) -> tuple[int, str, str]:
    """A stand-in for a pip-audit that never finishes."""
    raise subprocess.TimeoutExpired(list(argv), audit_mod.ONLINE_TIMEOUT)


@pytest.mark.parametrize(("version", "status"), [("3.9.1", 1), ("3.9.2", 0), ("1.0.4", 0), ("3.14.5", 0)])
def test_an_affected_pin_fails_and_a_fixed_one_passes(tmp_path: Path, version: str, status: int) -> None:
    done = cli(["--offline", *world(tmp_path, f"aiohttp=={version}\nyarl==1.25.1", requires=["aiohttp"])])
    assert done.returncode == status, done.stdout + done.stderr
    affected = f"AFFECTED aiohttp=={version}: PYSEC-2024-24 (CVE-2024-23334, GHSA-5h86-8mv2-jq9f), fixed in 3.9.2"
    assert (affected in done.stdout) == bool(status)
    assert "pypa/advisory-database at 3ccb612573e2 of 2024-10-10, extracted 2026-12-01" in done.stdout
    assert "advisories: the vendored facts only" in done.stdout


@pytest.mark.parametrize(("events", "version", "affected"), [
    ([("introduced", "0"), ("fixed", "2.3.2"), ("introduced", "2.5"), ("fixed", "2.5.2")], "2.3.1", True),
    ([("introduced", "0"), ("fixed", "2.3.2"), ("introduced", "2.5"), ("fixed", "2.5.2")], "2.3.2", False),
    ([("introduced", "0"), ("fixed", "2.3.2"), ("introduced", "2.5"), ("fixed", "2.5.2")], "2.4", False),
    ([("introduced", "0"), ("fixed", "2.3.2"), ("introduced", "2.5"), ("fixed", "2.5.2")], "2.5.1", True),
    ([("introduced", "0"), ("fixed", "2.3.2"), ("introduced", "2.5"), ("fixed", "2.5.2")], "2.5.2", False),
    ([("introduced", "1.0"), ("last_affected", "1.4")], "1.4", True),
    ([("introduced", "1.0"), ("last_affected", "1.4")], "1.4.1", False),
    ([("introduced", "1.0"), ("last_affected", "1.4")], "0.9", False),
    ([("fixed", "2.0"), ("introduced", "1.0")], "1.5", True),  # OSV does not promise sorted events
    ([("introduced", "0"), ("fixed", "3.0")], "3.0rc1", True),
    ([("introduced", "1.10")], "1.9", False),  # versions compare as versions, not as text or floats
])
def test_osv_range_events(events: list[tuple[str, str]], version: str, affected: bool) -> None:
    parsed = [(kind, Version(bound)) for kind, bound in events]
    assert facts_mod.in_range(Version(version), parsed) is affected


def test_an_advisory_with_only_a_version_list() -> None:
    advisory = facts_mod.parse_advisory({"id": "PYSEC-1", "versions": ["1.2", "1.4"]}, "t")
    assert [advisory.affects(Version(v)) for v in ("1.2", "1.3", "1.4")] == [True, False, True]


@pytest.mark.parametrize("runner", [
    answering(NOT_FOUND),
    answering("Traceback (most recent call last):\nConnectionError: Failed to resolve 'pypi.org'"),
    timing_out,
], ids=["not-found-for-every-package", "no-report", "timeout"])
def test_an_online_service_that_does_not_answer_falls_back(tmp_path: Path, runner: audit_mod.Runner) -> None:
    args = world(tmp_path, "aiohttp==3.9.1\nyarl==1.25.1")
    status, out = audit_mod.audit(Path(args[1]), Path(args[3]), [Path(args[5])], runner, date(2026, 12, 6))
    assert status == 1
    assert any(line.startswith("online: ") and line.endswith("unavailable, not counted as a pass") for line in out)
    assert "AFFECTED aiohttp==3.9.1: PYSEC-2024-24 (CVE-2024-23334, GHSA-5h86-8mv2-jq9f), fixed in 3.9.2" in out


def test_not_found_online_and_not_in_the_snapshot_is_unchecked_not_clean(tmp_path: Path) -> None:
    args = world(tmp_path, "aiohttp==3.14.5\nyarl==1.25.1", covered=["aiohttp"])
    status, out = audit_mod.audit(Path(args[1]), Path(args[3]), [Path(args[5])], answering(NOT_FOUND), date.today())
    assert status == 1
    assert "UNCHECKED yarl: no source covers it (refresh the snapshot: make advisories)" in out


def test_an_unreachable_service_falls_back_through_the_real_pip_audit(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    proxy = f"http://127.0.0.1:{closed}"
    done = cli(world(tmp_path, "aiohttp==3.9.1\nyarl==1.25.1"), HTTPS_PROXY=proxy, https_proxy=proxy,
               NO_PROXY="", no_proxy="", XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "online: PyPI through pip-audit gave no report" in done.stdout
    assert "unavailable, not counted as a pass" in done.stdout
    assert "AFFECTED aiohttp==3.9.1: PYSEC-2024-24" in done.stdout


def test_a_complete_online_answer_is_used_and_merged_with_the_vendored_facts(tmp_path: Path) -> None:
    report = json.dumps({"dependencies": [
        {"name": "aiohttp", "version": "3.9.1", "vulns": [
            {"id": "GHSA-5h86-8mv2-jq9f", "aliases": ["CVE-2024-23334"], "fix_versions": ["3.9.2"]},
            {"id": "GHSA-7gpw-8wmc-pm8g", "aliases": ["CVE-2024-27306"], "fix_versions": ["3.9.4"]}]},
        {"name": "yarl", "version": "1.25.1", "vulns": []}], "fixes": []})
    args = world(tmp_path, "aiohttp==3.9.1\nyarl==1.25.1", covered=[])
    status, out = audit_mod.audit(Path(args[1]), Path(args[3]), [Path(args[5])], answering(report), date.today())
    assert status == 1
    assert "online: PyPI through pip-audit answered for 2 of 2 pins: used" in out
    affected = [line for line in out if line.startswith("AFFECTED")]
    assert affected == [  # the traversal is known to both sources (by alias) and shown once
        "AFFECTED aiohttp==3.9.1: PYSEC-2024-24 (CVE-2024-23334, GHSA-5h86-8mv2-jq9f), fixed in 3.9.2",
        "AFFECTED aiohttp==3.9.1: GHSA-7gpw-8wmc-pm8g (CVE-2024-27306), fixed in 3.9.4",
    ]


def test_the_lock_must_hold_what_pyproject_declares(tmp_path: Path) -> None:
    args = world(tmp_path, "aiohttp==3.13.3\nyarl==1.25.1", requires=["aiohttp>=3.14.3,<4", "yarl>=1.9"],
                 dev=["pytest>=8", 'tomli>=2; python_version < "3.11"'])
    done = cli(["--offline", *args])
    assert done.returncode == 1
    assert "LOCK aiohttp==3.13.3 is outside aiohttp<4,>=3.14.3 (runtime): run make lock" in done.stdout
    assert "LOCK pytest (dev) is declared in pyproject.toml but not pinned: run make lock" in done.stdout
    assert "tomli" not in done.stdout  # its marker leaves it out on Python 3.11


@pytest.mark.parametrize(("lock", "facts_text", "message"), [
    ("aiohttp>=3.9\n", None, "constraints.txt:2: 'aiohttp>=3.9' is not an exact pin (name==version)"),
    ("aiohttp==3.9.1\nAIOHTTP==3.9.2\n", None, "constraints.txt:3: AIOHTTP is pinned twice"),
    ("aiohttp==3.9.1\n", '{"format": 1, "updated": "2026-12-01", "advisories": {"aiohttp": '
     '[{"id": "X-1", "ranges": [[{"limit": "3.0"}]]}]}}', "X-1: {'limit': '3.0'} is not one of"),
    ("aiohttp==3.9.1\n", '{"format": 1, "updated": "2026-12-01", "advisories": {"aiohttp": '
     '[{"id": "X-2", "ranges": [[{"fixed": "three"}]]}]}}', "X-2: 'three' is not a version"),
])
def test_unreadable_inputs_are_refused_with_the_place_and_the_reason(
        tmp_path: Path, lock: str, facts_text: str | None, message: str) -> None:
    args = world(tmp_path, lock.rstrip("\n"))
    if facts_text is not None:
        (tmp_path / "advisories.json").write_text(facts_text)
    done = cli(["--offline", *args])
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == ""


def test_the_generator_keeps_only_the_ecosystem_facts(tmp_path: Path) -> None:
    db = tmp_path / "db"
    folder = db / "vulns" / "Demo_Pkg"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2099-1.yaml").write_text(
        "id: PYSEC-2099-1\naliases:\n- CVE-2099-1\ndetails: prose that must not travel\naffected:\n"
        "- package: {ecosystem: PyPI, name: demo-pkg}\n  ranges:\n"
        "  - {type: GIT, repo: 'https://example.invalid', events: [{introduced: '0'}, {fixed: abc123}]}\n"
        "  - type: ECOSYSTEM\n    events:\n    - introduced: 1.10\n    - fixed: 1.12\n  versions: [1.10, 1.11]\n")
    (folder / "PYSEC-2099-2.yaml").write_text(
        "id: PYSEC-2099-2\nwithdrawn: '2099-01-01T00:00:00Z'\naffected:\n- package: {ecosystem: PyPI, name: demo-pkg}\n"
        "  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: '0'}]\n")
    (folder / "PYSEC-2099-3.yaml").write_text(
        "id: PYSEC-2099-3\naffected:\n- package: {ecosystem: PyPI, name: demo-pkg}\n  versions: ['2.0']\n")
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "db"]):
        subprocess.run(["git", "-C", str(db), *command], check=True, capture_output=True)
    (tmp_path / "lock.txt").write_text("demo.pkg==1.11\nother==1.0\n")
    out = tmp_path / "advisories.json"
    subprocess.run([sys.executable, str(CI / "advisories_from_osv.py"), str(db), "--lock", str(tmp_path / "lock.txt"),
                    "--out", str(out)], check=True, capture_output=True)
    data = json.loads(out.read_text())
    assert data["covered"] == ["demo-pkg", "other"]
    assert data["database"]["name"] == "pypa/advisory-database" and len(data["database"]["commit"]) == 40
    assert data["advisories"] == {"demo-pkg": [
        {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "ranges": [[{"introduced": "1.10"}, {"fixed": "1.12"}]]},
        {"id": "PYSEC-2099-3", "aliases": [], "versions": ["2.0"]},
    ]}
    assert "prose" not in out.read_text()
    snapshot = facts_mod.load_facts(out)
    assert snapshot.advisories["demo-pkg"][0].affects(Version("1.11"))


def requirement(name: str) -> Requirement:
    """The requirement pyproject.toml declares for a package, runtime or extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *(s for extra in project["optional-dependencies"].values() for s in extra)]
    [found] = [r for r in map(Requirement, specs) if facts_mod.normalize(r.name) == name]
    return found


@pytest.mark.parametrize(("name", "refused", "allowed"), [
    ("slack-sdk", "3.42.0", "3.43.0"),  # 3.42 builds a verifier that accepts requests signed with an empty secret
    ("aiohttp", "3.14.2", "3.14.3"),  # GHSA-cq5v-8q36-5273
    ("aiohttp", "3.12.13", "3.14.5"),  # GHSA-9548-qrrj-x5pj
    ("jinja2", "3.1.5", "3.1.6"),
    ("pyarrow", "14.0.0", "14.0.1"),
])
def test_floors_sit_past_known_advisories(name: str, refused: str, allowed: str) -> None:
    spec = requirement(name).specifier
    assert not spec.contains(refused) and spec.contains(allowed)


@pytest.mark.parametrize("name", ["sqlmodel", "sqlalchemy", "pydantic", "pydantic-settings", "apscheduler",
                                  "aiosqlite", "asyncpg", "pyarrow", "prometheus-client", "ruff"])
def test_pre_1_0_and_fast_moving_dependencies_have_a_ceiling(name: str) -> None:
    assert any(s.operator == "<" for s in requirement(name).specifier), f"{name} has no upper bound"


def test_every_install_takes_its_versions_from_the_lock() -> None:
    dockerfile = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line
                  or "pip wheel" in line]
    makefile = [line for line in (ROOT / "Makefile").read_text().splitlines()
                if "$(BIN)/python -m pip install" in line]
    assert dockerfile and makefile
    assert all(re.search(r"(-c|--constraint) \S*constraints\.txt", line) for line in dockerfile)
    assert all("--constraint $(LOCK)" in line for line in makefile)
    assert "make audit" in (ROOT / ".ci" / "run").read_text()


def test_the_vendored_facts_load() -> None:
    snapshot = facts_mod.load_facts(CI / "advisories.json")
    curated = facts_mod.load_facts(CI / "advisories_curated.json")
    assert snapshot.origin.startswith("pypa/advisory-database at ") and snapshot.covered
    assert {"aiohttp", "slack-sdk", "slack-bolt"} <= snapshot.covered
    assert any(a.id == "GHSA-9548-qrrj-x5pj" for a in curated.advisories["aiohttp"])


@pytest.mark.parametrize("secret", ["", "   "])
def test_the_installed_slack_sdk_refuses_an_empty_signing_secret(secret: str) -> None:
    """What the slack-sdk floor buys: before 3.43 a verifier built on "" accepted requests signed with ""."""
    from slack_sdk.signature import SignatureVerifier

    with pytest.raises(ValueError, match="signing_secret must not be empty"):
        SignatureVerifier(signing_secret=secret)
