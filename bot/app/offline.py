"""The commands that work without Slack: `retro export`, `retro render` and `retro verify` (database or bundle)."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.catalog import load_catalog
from bot.config import Settings
from bot.incident import incidents
from bot.postmortem import document, export
from bot.postmortem.draft import latest_people, template_environment
from bot.record import chain
from storage.db import create_engine, session_factory


async def export_incident(settings: Settings, ref: str, out: Path | None) -> int:
    """Write the bundle of an incident (by channel name or id) and verify it; prints where it went."""
    catalog = load_catalog(settings.retro_config)
    env = template_environment(settings.retro_templates_dir)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await incidents.by_reference(session, ref)
            people = await latest_people(session, incident.id or 0)
            doc = await document.build(session, incident, catalog=catalog, people=people)
    finally:
        await engine.dispose()
    folder = out or Path(f"{incident.channel_name}-bundle")
    export.write_bundle(env, doc, folder)
    report = export.verify_bundle(folder)
    status = "verified" if report.ok else "written, but it does NOT verify (run `retro verify` on it)"
    print(f"Bundle of #{incident.channel_name} {status}: {folder}\n"
          f"  {doc['incident']['entry_count']} entries, chain head {doc['incident']['head_hash']}")
    return 0 if report.ok else 1


def verify_bundle(folder: Path) -> int:
    """Print each check of a bundle; exit 0 when all pass, 1 naming what failed, 2 when it is no bundle."""
    try:
        report = export.verify_bundle(folder)
    except export.BundleError as exc:
        print(f"FAILED {folder}: {exc}", file=sys.stdout)
        return 2
    for ok, line in report.checks:
        print(f"{'ok  ' if ok else 'BAD '} {line}")
    print(f"{'OK' if report.ok else 'FAILED'} {folder}")
    return 0 if report.ok else 1


def render_bundle(settings: Settings, folder: Path, out: Path | None, check: bool) -> int:
    """Re-render a bundle's postmortem from its incident.json; with --check, compare it to the exported one."""
    env = template_environment(settings.retro_templates_dir)
    try:
        markdown = export.render_bundle(env, folder)
    except export.BundleError as exc:
        print(f"retro: {exc}", file=sys.stderr)
        return 2
    if check:
        exported = folder / export.POSTMORTEM
        same = exported.is_file() and exported.read_bytes() == markdown.encode("utf-8")
        print(f"{'identical to' if same else 'DIFFERS from'} {folder / export.POSTMORTEM}")
        return 0 if same else 1
    if out is None:
        sys.stdout.write(markdown)
    else:
        out.write_bytes(markdown.encode("utf-8"))
        print(f"wrote {out}")
    return 0


async def verify_database(settings: Settings, ref: str) -> int:
    """Exit 0 when the chain verifies, 1 (naming the first bad entry) when it does not."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await incidents.by_reference(session, ref)
            report = await chain.verify_incident(session, incident)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"OK #{incident.channel_name}: {report.count} entries, head {report.head}")
        return 0
    print(f"FAILED #{incident.channel_name}: entry {report.bad_seq}: {report.reason} "
          f"({report.count} entries verified before it)", file=sys.stdout)
    return 1


async def verify(settings: Settings, target: str) -> int:
    """An existing folder is checked as an exported bundle (offline); anything else names an incident."""
    if Path(target).is_dir():
        return verify_bundle(Path(target))
    return await verify_database(settings, target)
