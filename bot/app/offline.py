"""The commands that work without Slack: `retro export`, `retro render` and `retro verify` (database or bundle)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.catalog import load_catalog
from bot.config import Settings
from bot.errors import ConfigError
from bot.incident import incidents
from bot.postmortem import document, export
from bot.postmortem.draft import latest_people, template_environment
from bot.record import chain
from bot.signing import KeyFormatError, key_id, load_private_key, load_public_key, parse_public_keys
from storage.db import create_engine, session_factory


async def export_incident(settings: Settings, ref: str, out: Path | None) -> int:
    """Write the bundle of an incident (by channel name or id), signed when RETRO_SIGNING_KEY is set, and verify it;
    prints where it went."""
    signing = settings.retro_signing_key
    key = load_private_key(signing.get_secret_value()) if signing is not None else None
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
    export.write_bundle(env, doc, folder, key)
    report = export.verify_bundle(folder, [key.public_key()] if key is not None else [])
    status = "verified" if report.ok else "written, but it does NOT verify (run `retro verify` on it)"
    signed = f"signed by {key_id(key.public_key())}" if key is not None else "unsigned (RETRO_SIGNING_KEY is not set)"
    print(f"Bundle of #{incident.channel_name} {status}: {folder}\n"
          f"  {doc['incident']['entry_count']} entries, chain head {doc['incident']['head_hash']}, {signed}")
    return 0 if report.ok else 1


def trusted_keys(settings: Settings, given: Sequence[str]) -> list[Ed25519PublicKey]:
    """The public keys a bundle may be signed by: each --key, then RETRO_VERIFY_KEYS."""
    try:
        keys = [load_public_key(text, f"--key {n}") for n, text in enumerate(given, start=1)]
    except KeyFormatError as exc:
        raise ConfigError(str(exc)) from None
    return keys + parse_public_keys(settings.retro_verify_keys)


def verify_bundle(folder: Path, trusted: Sequence[Ed25519PublicKey] = ()) -> int:
    """Print each check of a bundle; exit 0 when all pass, 1 naming what failed, 2 when it is no bundle."""
    try:
        report = export.verify_bundle(folder, trusted)
    except (export.BundleError, OSError) as exc:
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
    except (export.BundleError, OSError) as exc:
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


async def verify(settings: Settings, target: str, keys: Sequence[str] = ()) -> int:
    """An existing folder is checked as an exported bundle (offline), against the trusted keys; anything else names
    an incident."""
    trusted = trusted_keys(settings, keys)
    if Path(target).is_dir():
        return verify_bundle(Path(target), trusted)
    if keys:
        raise ConfigError(f"--key checks a bundle's signature, and {target} is not a bundle folder")
    return await verify_database(settings, target)
