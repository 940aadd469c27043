"""The `retro` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import ConfigError, RetroError
from bot.observability import setup_logging
from storage.token_cipher import TokenKeyError

NO_TOKENS = """Retro needs Slack credentials to serve a real workspace:
  1. Create an app at https://api.slack.com/apps from manifest.yml (Create New App > From an app manifest).
  2. Install it to your workspace; copy the Bot User OAuth Token (xoxb-…) into SLACK_BOT_TOKEN.
  3. HTTP mode: copy the Signing Secret into SLACK_SIGNING_SECRET and point the request URLs at /slack/events.
     Socket Mode (laptops): create an app-level token with connections:write and set SLACK_APP_TOKEN (xapp-…).
To try Retro without Slack, run `retro sandbox` (a local Slack in your terminal) or `retro demo`."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="retro", description="Retro: ML incident capture and postmortems for Slack.")
    p.add_argument("--version", action="version", version=f"retro {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="<command>")
    sub.add_parser("serve", help="run the bot (HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set)")
    sb = sub.add_parser("sandbox", help="a local Slack in the terminal, with the real bot behind it")
    sb.add_argument("--as", dest="user", default="alice", help="the user you type as (default alice)")
    sb.add_argument("--database", type=Path, default=None, metavar="FILE",
                    help="the SQLite file for Retro's data (default retro-sandbox.db; DATABASE_URL is not used); "
                         "the sandbox's Slack is kept beside it, in <name>.slack/, and the next run resumes both")
    sb.add_argument("--fresh", action="store_true", help="start over: delete the sandbox's database and Slack first")
    verify = sub.add_parser("verify", help="check an incident's hash chain in the database, or a bundle offline")
    verify.add_argument("incident", help="incident channel name (inc-…), numeric id, or an exported bundle folder")
    _database_option(verify)
    verify.add_argument("--key", action="append", default=[], metavar="PUBLIC",
                        help="a public key (base64) the bundle must be signed by; repeatable, added to "
                             "RETRO_VERIFY_KEYS")
    export = sub.add_parser("export", help="write an incident's bundle: postmortem, incident.json, timeline, notebook, "
                                           "evidence artifacts and data-check inputs, MANIFEST "
                                           "(and SIGNATURE when RETRO_SIGNING_KEY is set)")
    export.add_argument("incident", help="incident channel name (inc-…) or numeric id")
    export.add_argument("-o", "--out", type=Path, help="folder to write (default ./<channel>-bundle)")
    _database_option(export)
    render = sub.add_parser("render", help="re-render a bundle's postmortem from its incident.json")
    render.add_argument("bundle", type=Path, help="an exported bundle folder")
    render.add_argument("-o", "--out", type=Path, help="write the Markdown here instead of standard output")
    render.add_argument("--check", action="store_true", help="render every file the bundle renders from incident.json "
                                                              "(postmortem, pictures, notebook) and compare each "
                                                              "(exit 1 if one differs)")
    again = sub.add_parser("rerun", help="run an incident's recorded analyses again (data checks offline, Prometheus "
                                         "and MLflow live); exit 0 reproduced, 3 source unavailable, 4 differs")
    again.add_argument("incident", help="an exported bundle folder, or an incident channel name (inc-…) or id")
    again.add_argument("evidence", nargs="*", metavar="E<n>",
                       help="only these evidence items (default: every analysis)")
    again.add_argument("--prometheus", metavar="URL", help="the Prometheus to ask (instead of PROMETHEUS_URL)")
    again.add_argument("--mlflow", metavar="URL", help="the MLflow tracking server to ask (instead of "
                                                       "MLFLOW_TRACKING_URI)")
    _database_option(again)
    demo = sub.add_parser("demo", help="run a scripted ML incident in the sandbox and write its verified bundle")
    demo.add_argument("-o", "--out", type=Path, default=Path("retro-demo"), help="bundle folder (default ./retro-demo)")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"], help="apply pending migrations / show revision")
    _database_option(db)
    keys = sub.add_parser("keys", help="make keys, show the signing public key, re-encrypt stored Slack tokens")
    key_cmds = keys.add_subparsers(dest="keys_cmd", metavar="<action>", required=True)
    new = key_cmds.add_parser("new", help="print a fresh key for RETRO_ENCRYPTION_KEY or RETRO_SIGNING_KEY")
    new.add_argument("kind", choices=["encryption", "signing"], help="which key to make")
    key_cmds.add_parser("public", help="print the public key (and key id) of RETRO_SIGNING_KEY, for verifiers")
    rotate = key_cmds.add_parser("rotate", help="re-encrypt every stored Slack token with the first "
                                                "RETRO_ENCRYPTION_KEY key")
    _database_option(rotate)
    return p


def _database_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--database", metavar="FILE|URL",
                         help="the database to read: a SQLite file or a database URL (instead of DATABASE_URL; "
                              "`retro sandbox` keeps its own in retro-sandbox.db)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `retro` console script."""
    args = _parser().parse_args(argv)
    if args.cmd is None:
        _parser().print_help()
        return 0
    try:
        settings = load_settings()
        if args.cmd != "sandbox" and getattr(args, "database", None):
            from bot.app.offline import database_url_from

            settings = settings.model_copy(update={"database_url": database_url_from(args.database)})
        interactive = args.cmd in ("sandbox", "demo")
        setup_logging("WARNING" if interactive else settings.log_level,
                      json_lines=settings.log_format == "json" and not interactive)
        return asyncio.run(_dispatch(args, settings))
    except (ConfigError, TokenKeyError) as exc:
        print(f"retro: configuration error: {exc}", file=sys.stderr)
        return 2
    except RetroError as exc:
        print(f"retro: {exc.user_message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "serve":
        if not settings.has_slack_credentials and not settings.socket_mode:
            print(NO_TOKENS, file=sys.stderr)
            return 2
        settings.check_for_serve()
        from bot.app.runtime import serve

        await serve(settings)
        return 0
    if args.cmd == "sandbox":
        from bot.app.repl import run_sandbox

        await run_sandbox(settings, user=args.user, database=args.database, fresh=args.fresh)
        return 0
    if args.cmd == "db":
        from bot.app.offline import HOW_TO_NAME, failure_reason, require_database
        from storage.migrate import current_revision, head_revision, upgrade_async

        if args.action == "upgrade":
            try:
                await upgrade_async(settings.database_url)
            except (SQLAlchemyError, OSError) as exc:
                raise ConfigError(f"cannot upgrade the database ({failure_reason(exc)}): {HOW_TO_NAME}") from None
        await require_database(settings, schema=False)
        current = await current_revision(settings.database_url)
        print(f"database at {current or 'no schema'} (head {head_revision()})")
        return 0
    if args.cmd == "verify":
        from bot.app.offline import verify

        return await verify(settings, args.incident, args.key)
    if args.cmd in ("export", "render"):
        from bot.app import offline

        if args.cmd == "export":
            return await offline.export_incident(settings, args.incident, args.out)
        return offline.render_bundle(settings, args.bundle, args.out, args.check)
    if args.cmd == "rerun":
        from bot.app.reruns import rerun_command

        live = {k: v for k, v in (("prometheus_url", args.prometheus), ("mlflow_tracking_uri", args.mlflow)) if v}
        return await rerun_command(settings.with_collector_urls(**live), args.incident, args.evidence)
    if args.cmd == "keys":
        from bot.app import keys

        if args.keys_cmd == "new":
            return keys.new(args.kind)
        if args.keys_cmd == "rotate":
            from bot.app.offline import require_database

            await require_database(settings, schema=False)
        return keys.public(settings) if args.keys_cmd == "public" else await keys.rotate(settings)
    if args.cmd == "demo":
        from bot.app.demo import run_demo

        return await run_demo(settings, out=args.out)
    raise AssertionError(args.cmd)
