"""The commands that work without Slack: `retro export`, `retro render` and `retro verify` (database or bundle)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import jinja2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.catalog import load_catalog
from bot.config import Settings
from bot.errors import ConfigError
from bot.incident import evidence, incidents
from bot.incident.names import names as kept_names
from bot.insights.pattern_use import incident_document
from bot.postmortem import bundle_sources, document, export
from bot.postmortem.draft import checked, latest_people, template_environment
from bot.record import chain
from bot.signing import KeyFormatError, key_id, load_private_key, load_public_key, parse_public_keys
from storage.db import create_engine, is_sqlite, normalise_url, session_factory
from storage.migrate import current_revision, head_revision

SANDBOX_DATABASE = "retro-sandbox.db"  # where `retro sandbox` keeps its database unless told otherwise
HOW_TO_NAME = "set DATABASE_URL or pass --database FILE|URL"


def database_url_from(value: str) -> str:
    """What `--database` names: a URL as it is, a file path as a SQLite URL."""
    return value if "://" in value else f"sqlite+aiosqlite:///{Path(value).expanduser()}"


def failure_reason(exc: BaseException) -> str:
    """The first line of what a database driver said went wrong."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


async def require_database(settings: Settings, *, schema: bool = True) -> None:
    """Refuse in one line, naming what to set, to work without Retro's database: no file there, a server that does
    not answer, or (with `schema`) a database without Retro's current tables."""
    url = settings.database_url
    try:
        shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
        path = make_url(normalise_url(url)).database if is_sqlite(url) else None
    except (SQLAlchemyError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL ({exc}): {HOW_TO_NAME}") from None
    if path and path != ":memory:" and not Path(path).is_file():
        hint = f"; `retro sandbox` keeps its own: --database {SANDBOX_DATABASE}" if Path(SANDBOX_DATABASE).is_file() \
            else ""
        raise ConfigError(f"no database at {path}: {HOW_TO_NAME}{hint}")
    try:
        revision = await current_revision(url)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot open the database {shown} ({failure_reason(exc)}): {HOW_TO_NAME}") from None
    if schema and revision is None:
        raise ConfigError(f"{shown} holds no Retro data (no schema): {HOW_TO_NAME}")
    if schema and revision != head_revision():
        raise ConfigError(f"{shown} is at schema {revision}, this Retro reads {head_revision()}: "
                          "run `retro db upgrade` first")


async def export_incident(settings: Settings, ref: str, out: Path | None) -> int:
    """Write the bundle of an incident (by channel name or id), signed when RETRO_SIGNING_KEY is set, and verify it;
    prints where it went."""
    signing = settings.retro_signing_key
    key = load_private_key(signing.get_secret_value()) if signing is not None else None
    await require_database(settings)
    catalog = load_catalog(settings.retro_config)
    env = template_environment(settings.retro_templates_dir)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await incidents.by_reference(session, ref)
            people = await latest_people(session, incident.id or 0)
            doc = await incident_document(session, incident, catalog=catalog, people=people)
            # The names are captured into the bundle now: a bundle re-renders from its own incident.json alone.
            doc = document.with_people(doc, await kept_names(session, incident.team_id, document.user_ids(doc)))
            rows = await evidence.listing(session, incident.id or 0)
    finally:
        await engine.dispose()
    doc = checked(env, doc, catalog)  # and so are the blameless check's findings
    unnamed = sorted(set(document.user_ids(doc)) - set(doc["people"]))
    folder = out or Path(f"{incident.channel_name}-bundle")
    export.write_bundle(env, doc, folder, key, attached=bundle_sources.attachments(settings, doc, rows))
    report = export.verify_bundle(folder, [key.public_key()] if key is not None else [])
    status = "verified" if report.ok else "written, but it does NOT verify (run `retro verify` on it)"
    signed = f"signed by {key_id(key.public_key())}" if key is not None else "unsigned (RETRO_SIGNING_KEY is not set)"
    print(f"Bundle of #{incident.channel_name} {status}: {folder}\n"
          f"  {doc['incident']['entry_count']} entries, chain head {doc['incident']['head_hash']}, {signed}")
    if unnamed:
        more = " …" if len(unnamed) > 5 else ""
        print(f"  {len(unnamed)} people appear by user id ({', '.join(unnamed[:5])}{more}): Slack has not named them "
              "to Retro yet (drafting the postmortem in Slack does)")
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


def check_rendering(env: jinja2.Environment, folder: Path) -> int:
    """Every file the bundle renders from its incident.json (postmortem, pictures, notebook) rendered again and
    compared byte for byte with the exported one; a file the bundle does not have (written before it existed) is
    said, not failed."""
    try:
        files = export.bundle_files(env, export.load_document(folder))
    except (export.BundleError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"retro: {exc}", file=sys.stderr)
        return 2
    differs = 0
    for name, data in sorted(files.items()):
        exported = folder / name
        if not exported.is_file():
            print(f"not in this bundle: {name}")
            continue
        same = exported.read_bytes() == data
        differs += not same
        print(f"{'identical to' if same else 'DIFFERS from'} {exported}")
    return 1 if differs else 0


def render_bundle(settings: Settings, folder: Path, out: Path | None, check: bool) -> int:
    """Re-render a bundle's postmortem from its incident.json; with --check, render every file it renders and
    compare each with the exported one."""
    env = template_environment(settings.retro_templates_dir)
    try:
        markdown = export.render_bundle(env, folder)
    except (export.BundleError, OSError) as exc:
        print(f"retro: {exc}", file=sys.stderr)
        return 2
    if check:
        return check_rendering(env, folder)
    if out is None:
        sys.stdout.write(markdown)
    else:
        out.write_bytes(markdown.encode("utf-8"))
        print(f"wrote {out}")
    return 0


async def verify_database(settings: Settings, ref: str) -> int:
    """Exit 0 when the chain verifies, 1 (naming the first bad entry) when it does not."""
    await require_database(settings)
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
