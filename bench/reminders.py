"""Reminder delivery benchmark: N due reminders, several `retro serve` processes on one PostgreSQL, the sandbox.

Every process runs the bot with its reminder scheduler, as in production; they compete for the same rows.
Reported: seconds until every reminder is marked sent, and duplicates (messages Slack received for a reminder
that had already been delivered), which must be 0. The database named by RETRO_BENCH_DATABASE_URL is wiped.

    RETRO_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/retro_bench python -m bench.reminders
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from storage.db import is_sqlite
from storage.migrate import upgrade_async
from tests.databases import wipe
from tests.reminder_load import measure

ENV = "RETRO_BENCH_DATABASE_URL"


async def reset(url: str) -> None:
    """Empty the (disposable) PostgreSQL database and migrate it."""
    await wipe(url)
    await upgrade_async(url)


async def _measure_afresh(url: str, n: int) -> dict[str, Any]:
    if not is_sqlite(url):  # measure refuses SQLite with the reason
        await reset(url)
    return await measure(url, n=n)


def run(n: int = 10_000) -> dict[str, Any]:
    """The benchmark on RETRO_BENCH_DATABASE_URL (skipped, with the reason, when it is not set)."""
    url = os.environ.get(ENV)
    if not url:
        return {"skipped": f"set {ENV} to a disposable PostgreSQL database"}
    return asyncio.run(_measure_afresh(url, n))


def main() -> None:
    """Print the time until all reminders are sent and the duplicate count."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=10_000, help="due reminders (default 10,000)")
    result = run(p.parse_args().n)
    if "skipped" in result:
        print(f"reminders: skipped ({result['skipped']})")
        return
    print(f"{result['reminders']} reminders, {result['processes']} scheduler processes: all sent in "
          f"{result['seconds']} s ({result['per_second']}/s), duplicates: {result['duplicates']}")


if __name__ == "__main__":
    main()
