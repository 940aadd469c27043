"""Claims on reminder rows: atomic, disjoint between schedulers, expiring, fenced, releasable (SQLite and PG)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app.wiring import build_deps
from bot.config import Settings
from bot.followup import reminders
from storage.models import Reminder
from tests.reminder_world import T0, TEAM, world

LEASE = timedelta(minutes=2)


async def _seed(w, n: int, *, due_in: timedelta = timedelta(0)) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    async with w.deps.session() as s:
        for i in range(n):
            rid = await reminders.add(s, team_id=TEAM, kind="digest", due_at=T0 + due_in + timedelta(seconds=i),
                                      dedupe_key=f"test:{due_in}:{i}")
            assert rid is not None
            ids.append(rid)
        await s.commit()
    return ids


async def test_claim_takes_due_rows_soonest_first_within_the_limit(database_url: str) -> None:
    async with world(database_url) as w:
        due = await _seed(w, 5)
        later = await _seed(w, 2, due_in=timedelta(hours=1))
        async with w.deps.session() as s:
            first = await reminders.claim(s, worker="w1", now=T0 + timedelta(seconds=10), lease=LEASE, limit=3)
        assert [r.id for r in first] == due[:3]
        assert all(r.status == "claimed" and r.claimed_by == "w1" and r.attempts == 0 for r in first)
        assert first[0].claim_expires_at == T0 + timedelta(seconds=10) + LEASE
        async with w.deps.session() as s:
            rest = await reminders.claim(s, worker="w2", now=T0 + timedelta(seconds=10), lease=LEASE, limit=10)
        assert [r.id for r in rest] == due[3:]
        assert later[0] not in {r.id for r in first + rest}


async def test_two_schedulers_on_separate_engines_claim_disjoint_sets(database_url: str) -> None:
    async with world(database_url) as w:
        ids = await _seed(w, 300)
        other = build_deps(Settings.model_validate({"database_url": database_url}), clock=w.clock)
        try:
            async def worker(deps, name: str) -> list[int]:  # type: ignore[no-untyped-def]
                got: list[int] = []
                while True:
                    async with deps.session() as s:
                        rows = await reminders.claim(s, worker=name, now=T0 + timedelta(hours=1), lease=LEASE,
                                                     limit=7)
                    if not rows:
                        return got
                    got.extend(r.id or 0 for r in rows)
                    await asyncio.sleep(0)

            a, b = await asyncio.gather(worker(w.deps, "a"), worker(other, "b"))
        finally:
            await other.close()
        assert not set(a) & set(b)
        assert sorted(a + b) == ids
        assert a and b, "both schedulers should have taken part"


async def test_an_expired_claim_is_taken_over_and_the_old_owner_is_fenced_off(database_url: str) -> None:
    async with world(database_url) as w:
        (rid,) = await _seed(w, 1)
        async with w.deps.session() as s:
            (row,) = await reminders.claim(s, worker="crashed", now=T0, lease=LEASE, limit=5)
        async with w.deps.session() as s:
            assert await reminders.claim(s, worker="w2", now=T0 + LEASE - timedelta(seconds=1), lease=LEASE,
                                         limit=5) == []
            (again,) = await reminders.claim(s, worker="w2", now=T0 + LEASE, lease=LEASE, limit=5)
        assert again.id == rid and again.claimed_by == "w2" and again.attempts == 1  # the crash counts
        async with w.deps.session() as s:
            assert not await reminders.mark_sent(s, rid, worker="crashed", now=T0 + LEASE)
            assert await reminders.mark_sent(s, rid, worker="w2", now=T0 + LEASE)
            await s.commit()
            stored = await s.get(Reminder, rid)
        assert stored is not None and stored.status == "sent" and stored.claimed_by is None


async def test_release_hands_back_only_the_workers_own_claims(database_url: str) -> None:
    async with world(database_url) as w:
        ids = await _seed(w, 4)
        async with w.deps.session() as s:
            await reminders.claim(s, worker="a", now=T0 + timedelta(minutes=1), lease=LEASE, limit=2)
            await reminders.claim(s, worker="b", now=T0 + timedelta(minutes=1), lease=LEASE, limit=2)
            assert await reminders.release(s, worker="a") == 2
            assert await reminders.counts(s) == {"pending": 2, "claimed": 2}
            again = await reminders.claim(s, worker="c", now=T0 + timedelta(minutes=1), lease=LEASE, limit=10)
        assert [r.id for r in again] == ids[:2]


async def test_retry_failure_and_rate_limit_bookkeeping(database_url: str) -> None:
    async with world(database_url) as w:
        a, b, c = await _seed(w, 3)
        async with w.deps.session() as s:
            await reminders.claim(s, worker="w", now=T0 + timedelta(minutes=1), lease=LEASE, limit=3)
            assert await reminders.mark_retry(s, a, worker="w", at=T0 + timedelta(minutes=5), error="internal_error",
                                              failed_attempt=True)
            assert await reminders.mark_retry(s, b, worker="w", at=T0 + timedelta(minutes=5), error="ratelimited",
                                              failed_attempt=False)
            assert await reminders.mark_failed(s, c, worker="w", error="user_not_found")
            await s.commit()
            rows = {r.id: r for r in [await s.get(Reminder, i) for i in (a, b, c)] if r is not None}
        assert (rows[a].status, rows[a].attempts, rows[a].due_at) == ("pending", 1, T0 + timedelta(minutes=5))
        assert (rows[b].status, rows[b].attempts) == ("pending", 0)
        assert (rows[c].status, rows[c].last_error) == ("failed", "user_not_found")


async def test_dedupe_keys_insert_once_and_revive_only_cancelled_rows(database_url: str) -> None:
    async with world(database_url) as w, w.deps.session() as s:
        first = await reminders.add(s, team_id=TEAM, kind="due", due_at=T0, dedupe_key="k1")
        assert await reminders.add(s, team_id=TEAM, kind="due", due_at=T0, dedupe_key="k1") is None
        await s.commit()
        assert first is not None
        (row,) = await reminders.claim(s, worker="w", now=T0, lease=LEASE, limit=1)
        assert await reminders.mark_cancelled(s, first, worker="w", reason="superseded")
        await s.commit()
        revived = await reminders.add(s, team_id=TEAM, kind="due", due_at=T0 + timedelta(hours=1),
                                      dedupe_key="k1", revive=True)
        await s.commit()
        assert revived == first
        stored = await s.get(Reminder, first)
        assert stored is not None
        await s.refresh(stored)
        assert stored.status == "pending" and stored.due_at == T0 + timedelta(hours=1)
        (row,) = await reminders.claim(s, worker="w", now=T0 + timedelta(hours=1), lease=LEASE, limit=1)
        assert await reminders.mark_sent(s, first, worker="w", now=T0)
        await s.commit()
        assert await reminders.add(s, team_id=TEAM, kind="due", due_at=T0, dedupe_key="k1", revive=True) is None
