"""Architecture rules: the layers of docs/architecture.md hold, and the manifest and the listeners agree."""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "handlers", "storage")
# The Slack-free domain: one subpackage per concept.
DOMAIN = ("record", "incident", "followup", "postmortem", "insights", "collectors", "alerts")
SLACK_LIBS = ("slack_sdk", "slack_bolt")


def modules(*packages: str) -> list[Path]:
    """Every Python file under these folders (migrations' generated versions excepted)."""
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if "versions" not in p.parts)


def dotted(path: Path) -> str:
    """The module name of a file: bot/app/cli.py -> bot.app.cli, bot/app/__init__.py -> bot.app."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of this checkout."""
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, lazy and type-checking imports included: `from a import b` names a.b when b is
    a module, else a."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            found = {m for m in subs if is_module(m)}
            names.update(found)
            if len(found) < len(subs):
                names.add(node.module)
    return names


def layer_of(path: Path) -> str:
    """app, slack, blocks, a domain package, leaf (a module right in bot/), handlers or storage."""
    rel = path.relative_to(ROOT).parts
    if rel[0] != "bot":
        return rel[0]
    if rel[1] == "__main__.py":
        return "app"  # `python -m bot` is the command line
    return "leaf" if len(rel) == 2 else rel[1]


def starts(name: str, *prefixes: str) -> bool:
    """Whether a module name is one of the prefixes or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(paths: list[Path], *forbidden: str) -> list[str]:
    """'file imports module' for each import of a forbidden module."""
    return [f"{p.relative_to(ROOT)} imports {m}" for p in paths for m in sorted(imports_of(p)) if starts(m, *forbidden)]


def test_the_domain_and_the_leaves_know_no_slack_and_no_layer_above() -> None:
    paths = [p for p in modules("bot") if layer_of(p) in (*DOMAIN, "leaf")]
    assert len(paths) > 40
    assert offenders(paths, *SLACK_LIBS, "handlers", "sandbox", "bot.app", "bot.slack", "bot.blocks") == []


def test_leaves_stay_leaves() -> None:
    leaves = [p for p in modules("bot") if layer_of(p) == "leaf"]
    assert offenders(leaves, *(f"bot.{d}" for d in DOMAIN)) == []


def test_only_the_wiring_imports_handlers_and_the_sandbox() -> None:
    paths = [p for p in modules(*PRODUCT) if layer_of(p) not in ("app", "handlers")]
    assert offenders(paths, "handlers", "sandbox") == []
    assert offenders(modules("handlers"), "sandbox", "bot.app") == []


def test_only_the_slack_side_imports_slack_sdk() -> None:
    # storage/oauth_tables.py declares slack_sdk's installation tables on our metadata so that Alembic owns them.
    paths = [p for p in modules(*PRODUCT) if layer_of(p) not in ("slack", "blocks", "handlers")
             and p.name != "oauth_tables.py"]
    assert offenders(paths, "slack_sdk") == []
    bolt = [p for p in modules(*PRODUCT) if layer_of(p) not in ("app", "slack", "handlers")]
    assert offenders(bolt, "slack_bolt") == []


def test_storage_knows_no_concepts() -> None:
    assert offenders(modules("storage"), "bot", "handlers", "sandbox") == []


def test_handlers_never_call_each_others_workflows() -> None:
    """A handler module imports only the shared adapter helpers of handlers/, never another area's module."""
    shared = {"handlers.context", "handlers.guard", "handlers.options", "handlers.parsing", "handlers.payloads",
              "handlers.usage", "handlers.viewstate"}
    found = []
    for path in modules("handlers"):
        if path.name == "__init__.py" or path.stem == "commands":
            continue  # the registry and the /retro router name every area by design
        found += [f"{path.name} imports {m}" for m in imports_of(path)
                  if starts(m, "handlers") and m != "handlers" and m not in shared and m != dotted(path)]
    assert found == []


def test_the_router_shows_every_subcommand_area() -> None:
    tree = ast.parse((ROOT / "handlers" / "commands.py").read_text())
    spread = [n for n in ast.walk(tree) if isinstance(n, ast.Dict) and None in n.keys]
    assert not spread, "the subcommand table names each subcommand itself (no **area.TABLE)"
    for path in modules("handlers"):
        assert "SUBCOMMANDS" not in path.read_text(), f"{path.name} re-exports a subcommand table"


def test_modules_stay_small() -> None:
    for path in modules(*PRODUCT, "sandbox"):
        assert len(path.read_text().splitlines()) <= 300, f"{path.relative_to(ROOT)} is over 300 lines"


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.name for p in modules(*PRODUCT) if p.name != "__init__.py")
    assert {n for n, k in names.items() if k > 1} == set()


def test_no_import_circles() -> None:
    """No module reaches itself through the imports of the product (package faces resolved to their files)."""
    paths = modules(*PRODUCT)
    by_name = {dotted(p): p for p in paths}
    graph = {name: {m for m in imports_of(path) if m in by_name and m != name} for name, path in by_name.items()}
    # `import bot.x` also runs bot/__init__.py; a package face that only documents itself adds no edge.
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        trail.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            circle = visit(name)
            assert circle is None, " -> ".join(circle)


def test_manifest_events_match_listeners() -> None:
    from handlers.events import SUBSCRIBED

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    events = {e.split(".")[0] for e in manifest["settings"]["event_subscriptions"]["bot_events"]}
    assert events == set(SUBSCRIBED)


def test_the_sandbox_delivers_exactly_the_manifest_events() -> None:
    from bot.app.local import manifest_events

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
