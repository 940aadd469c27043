"""Architecture rules: the domain is Slack-free; the manifest and the listeners agree."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# What in bot/ talks to Slack: the app factory and the HTTP server, the Block Kit builders (bot/blocks/) and the
# Web API side (bot/slack/). Everything else in bot/ is the domain; cli.py is the entry point that wires them.
SLACK_FACING = {"app", "server"}
SLACK_PACKAGES = {"blocks", "slack"}


def domain_modules() -> list[Path]:
    out = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT / "bot")
        if rel.parts[0] in SLACK_PACKAGES or (len(rel.parts) == 1 and rel.stem in SLACK_FACING | {"cli"}):
            continue
        out.append(path)
    return out


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_never_imports_slack() -> None:
    modules = domain_modules()
    assert len(modules) > 30  # the domain is most of bot/
    for path in modules:
        bad = {m for m in imports_of(path) if m.split(".")[0] in ("slack_sdk", "slack_bolt", "handlers", "sandbox")
               or m.startswith(("bot.slack", "bot.app", "bot.server"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_storage_and_bot_never_import_handlers() -> None:
    for pkg in ("bot", "storage"):
        for path in (ROOT / pkg).rglob("*.py"):
            bad = {m for m in imports_of(path) if m.split(".")[0] == "handlers"}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_handlers_never_import_sandbox() -> None:
    for path in (ROOT / "handlers").rglob("*.py"):
        assert not {m for m in imports_of(path) if m.split(".")[0] == "sandbox"}, path


def test_modules_stay_small() -> None:
    for pkg in ("bot", "handlers", "storage", "sandbox"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "versions" in path.parts:
                continue
            assert len(path.read_text().splitlines()) <= 300, f"{path.relative_to(ROOT)} is over 300 lines"


def test_manifest_events_match_listeners() -> None:
    from handlers.events import SUBSCRIBED

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    events = {e.split(".")[0] for e in manifest["settings"]["event_subscriptions"]["bot_events"]}
    assert events == set(SUBSCRIBED)


def test_the_sandbox_delivers_exactly_the_manifest_events() -> None:
    from bot.slack.local import manifest_events

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert manifest_events() == manifest["settings"]["event_subscriptions"]["bot_events"]


def test_oauth_asks_for_exactly_the_manifest_scopes() -> None:
    from bot.slack.oauth import manifest_scopes

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(manifest_scopes()) == sorted(manifest["oauth_config"]["scopes"]["bot"])


def test_manifest_validates_against_slack_schema() -> None:
    import jsonschema

    shared = ROOT.parent / "shared" / "slack"
    schema_file = shared / "manifest.schema.1.0.0.json"
    if not schema_file.exists():  # the schema travels beside the project, not inside it
        schema_file = ROOT / "tests" / "data" / "manifest.schema.1.0.0.json"
    schema = json.loads(schema_file.read_text())
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    jsonschema.validate(manifest, schema)
    assert manifest["_metadata"]["major_version"] == 1
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/retro" and command["should_escape"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
