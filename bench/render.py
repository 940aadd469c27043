"""Postmortem benchmark: an incident with 10,000 timeline entries, rendered, then exported and verified.

`render` is what `/retro postmortem` does before posting (read the incident document from the database, render
the Markdown); `export+verify` is `retro export` followed by `retro verify <bundle>` (document, Markdown, SVG,
canonical JSON and MANIFEST written, then every digest and the whole chain recomputed). Target: ≤ 1 s each.

    python -m bench.render
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col

from bot.canonical import chain_hash, sha256_hex
from bot.catalog import load_catalog
from bot.incident import evidence, incidents
from bot.postmortem.document import build
from bot.postmortem.draft import render, template_environment
from bot.postmortem.export import verify_bundle, write_bundle
from bot.record import chain
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_async
from storage.models import Incident, TimelineEntry

ENTRIES = 10_000
TARGET_SECONDS = 1.0
START = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
USERS = [f"U0BENCH{i:02d}" for i in range(12)]


def _rows(incident_id: int, first_seq: int, prev_hash: str, count: int) -> tuple[list[dict[str, Any]], str]:
    """Chained message entries (every 25th a key event), computed exactly as chain.append would."""
    rows = []
    for i in range(count):
        seq = first_seq + i
        text = (f"Checked shard {seq % 97} of the feature store: lag {seq % 13} min, precision@0.5 "
                f"{0.6 + (seq % 30) / 100:.2f}, nothing unusual in <https://grafana.example.com/d/x|dashboard {seq}>")
        entry = TimelineEntry(team_id="T0BENCH", incident_id=incident_id, seq=seq,
                              at=START + timedelta(seconds=3 * seq), kind="message", actor=USERS[seq % len(USERS)],
                              slack_ts=f"1773306000.{seq:06d}",
                              thread_ts=None, refers_to=None, key_event=seq % 25 == 0, text=text,
                              text_sha256=sha256_hex(text), data={}, prev_hash=prev_hash, hash="")
        entry.hash = prev_hash = chain_hash(prev_hash, chain.entry_payload(entry))
        rows.append({k: getattr(entry, k) for k in (
            "team_id", "incident_id", "seq", "at", "kind", "actor", "slack_ts", "thread_ts", "refers_to", "key_event",
            "text", "text_sha256", "data", "prev_hash", "hash")})
    return rows, prev_hash


async def seed(url: str) -> Incident:
    """A declared incident with a few evidence items, then bulk-appended messages up to ENTRIES entries."""
    await upgrade_async(url)
    engine = create_engine(url)
    catalog = load_catalog()
    try:
        async with session_factory(engine)() as s:
            decl = incidents.validate_declaration(catalog, title="Benchmark: ranking quality drop", severity=2,
                                                  category="data-drift", models=("ranker@7",))
            inc = await incidents.create(s, team_id="T0BENCH", decl=decl, declared_by=USERS[0], declared_in="C0",
                                         channel_id="C0BENCH", channel_name="inc-bench", now=START)
            for n in range(5):
                item = evidence.validate("metric", f"https://grafana.example.com/d/rank?panel={n}", "ndcg dropped",
                                         {"model": "ranker@7"}, now=START)
                await evidence.add(s, incident=inc, item=item, actor=USERS[n], now=START + timedelta(seconds=n))
            await s.refresh(inc)
            assert inc.id is not None
            rows, head = _rows(inc.id, inc.entry_count + 1, inc.head_hash, ENTRIES - inc.entry_count)
            for i in range(0, len(rows), 1000):
                await s.exec(insert(TimelineEntry).values(rows[i:i + 1000]))
            last = rows[-1]["at"]
            await s.exec(update(Incident).where(col(Incident.id) == inc.id)
                         .values(entry_count=ENTRIES, head_hash=head, last_entry_at=last))
            await s.commit()
            await s.refresh(inc)
            return inc
    finally:
        await engine.dispose()


async def measure(url: str, incident: Incident, out: Path) -> dict[str, Any]:
    """Time the two paths on a seeded database."""
    env = template_environment()
    catalog = load_catalog()
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as s:
            await chain.entries_of(s, incident.id or 0)  # warm the database cache and the ORM, like a live bot
            render(env, await build(s, incident, catalog=catalog))  # compile the templates once, like a live bot
            t0 = time.perf_counter()
            doc = await build(s, incident, catalog=catalog)
            markdown = render(env, doc)
            t1 = time.perf_counter()
            doc = await build(s, incident, catalog=catalog)
            write_bundle(env, doc, out)
            report = verify_bundle(out)
            t2 = time.perf_counter()
    finally:
        await engine.dispose()
    assert report.ok, report.checks
    assert len(doc["entries"]) == ENTRIES
    return {"entries": ENTRIES, "render_seconds": round(t1 - t0, 3), "export_verify_seconds": round(t2 - t1, 3),
            "markdown_bytes": len(markdown.encode()), "bundle_bytes": sum(p.stat().st_size for p in out.iterdir()),
            "target_seconds": TARGET_SECONDS}


def run() -> dict[str, Any]:
    """Seed a throwaway SQLite database, then measure; returns the timings."""
    with tempfile.TemporaryDirectory(prefix="retro-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"

        async def go() -> dict[str, Any]:
            return await measure(url, await seed(url), Path(tmp) / "bundle")

        return asyncio.run(go())


def main() -> None:
    """Print the timings and whether each meets the target."""
    result = run()
    for key in ("render_seconds", "export_verify_seconds"):
        verdict = "ok" if result[key] <= TARGET_SECONDS else "SLOWER than the target"
        print(f"{key.replace('_seconds', '').replace('_', '+'):>14}: {result[key]:.3f} s  ({verdict}, "
              f"target {TARGET_SECONDS:.1f} s, {ENTRIES:,} entries)")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
