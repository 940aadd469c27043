"""Recording alert notifications and claiming their groups: duplicates, claims, release races, retries, storms."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot.alerts import claims
from bot.alerts.intake import key_hash
from bot.slack.alert_runner import AlertRunner
from storage.alert_tables import AlertGroupRow, AlertNotice
from tests.alert_world import TEAM, CountingHandler, make_deps, post
from tests.conftest import FakeClock

LEASE = timedelta(seconds=60)


async def test_a_notification_is_recorded_once_and_marks_its_group_pending(database_url: str) -> None:
    deps = make_deps(database_url)
    try:
        first, new = await post(deps, 1, 1)
        again, new_again = await post(deps, 1, 1)
        other, _ = await post(deps, 1, 2)
        assert new and not new_again and again.id == first.id
        assert other.group_id == first.group_id and other.id != first.id
        async with deps.session() as session:
            groups = list((await session.exec(select(AlertGroupRow))).all())
            notices = await claims.pending_notices(session, first.group_id)
        assert len(groups) == 1 and groups[0].pending and groups[0].team_id == TEAM
        assert groups[0].key_hash == key_hash(groups[0].group_key) and groups[0].status == "firing"
        assert [n.id for n in notices] == [first.id, other.id]
        assert notices[0].batch["alerts"][0]["labels"]["alertname"] == "Drift1"
    finally:
        await deps.close()


async def test_a_claimed_group_is_nobody_elses_until_released_and_news_keep_it_pending(database_url: str) -> None:
    clock = FakeClock()
    deps = make_deps(database_url, clock)
    try:
        notice, _ = await post(deps, 1, 1)
        async with deps.session() as s:
            (group,) = await claims.claim_groups(s, worker="a", now=clock(), lease=LEASE, limit=5)
            assert await claims.claim_groups(s, worker="b", now=clock(), lease=LEASE, limit=5) == []
            assert await claims.finish_notice(s, notice.id or 0, outcome="declared", incident_id=None, now=clock(),
                                              worker="a")
        await post(deps, 1, 2)  # arrives while "a" still holds the group
        async with deps.session() as s:
            assert not await claims.release_group(s, group.id or 0, worker="b")
            assert await claims.release_group(s, group.id or 0, worker="a")
            (again,) = await claims.claim_groups(s, worker="b", now=clock(), lease=LEASE, limit=5)
            (late,) = await claims.pending_notices(s, again.id or 0)
            assert late.id != notice.id
            assert await claims.finish_notice(s, late.id or 0, outcome="joined", incident_id=None, now=clock(),
                                              worker="b")
            assert await claims.release_group(s, again.id or 0, worker="b")
            assert await claims.claim_groups(s, worker="a", now=clock(), lease=LEASE, limit=5) == []
            stored = await claims.get_group(s, again.id or 0)
            assert stored is not None and not stored.pending and stored.claimed_by is None
    finally:
        await deps.close()


async def test_a_dead_workers_claim_expires_and_its_late_writes_change_nothing(database_url: str) -> None:
    clock = FakeClock()
    deps = make_deps(database_url, clock)
    try:
        notice, _ = await post(deps, 1, 1)
        async with deps.session() as s:
            (group,) = await claims.claim_groups(s, worker="dead", now=clock(), lease=LEASE, limit=5)
            clock.advance(seconds=61)
            (taken,) = await claims.claim_groups(s, worker="alive", now=clock(), lease=LEASE, limit=5)
            assert taken.id == group.id
            assert not await claims.finish_notice(s, notice.id or 0, outcome="declared", incident_id=None,
                                                  now=clock(), worker="dead")
            assert not await claims.set_group_incident(s, group.id or 0, None, worker="dead")
            assert not await claims.renew_group(s, group.id or 0, worker="dead", now=clock(), lease=LEASE)
            (still,) = await claims.pending_notices(s, group.id or 0)
            assert still.id == notice.id
    finally:
        await deps.close()


async def test_a_failing_notice_is_retried_after_a_backoff_then_given_up(sqlite_database_url: str) -> None:
    clock = FakeClock()
    deps = make_deps(sqlite_database_url, clock)
    try:
        bad, _ = await post(deps, 1, 1)
        good, _ = await post(deps, 1, 2)
        handler = CountingHandler(fail={bad.id or 0: 99})
        runner = AlertRunner(deps, client=None, handler=handler, worker="w")  # type: ignore[arg-type]
        assert await runner.sweep() == 0
        assert await runner.sweep() == 0, "the group waits for its backoff"
        assert handler.calls[bad.id or 0] == 1 and handler.calls[good.id or 0] == 0
        for wait in (5, 10, 20, 40):
            clock.advance(seconds=wait)
            await runner.sweep()
        assert handler.calls[bad.id or 0] == 5
        assert handler.calls[good.id or 0] == 1, "the group moved on past the notice it gave up"
        async with deps.session() as s:
            rows = {n.id: n for n in (await s.exec(select(AlertNotice))).all()}
        assert (rows[bad.id].status, rows[bad.id].outcome, rows[bad.id].attempts) == ("failed", "failed", 5)
        assert "Slack said no" in (rows[bad.id].error or "")
        assert (rows[good.id].status, rows[good.id].outcome) == ("done", "declared")
        sample = deps.metrics.registry.get_sample_value
        assert sample("retro_alerts_total", {"source": "alertmanager", "outcome": "failed"}) == 1
        assert sample("retro_alerts_total", {"source": "alertmanager", "outcome": "declared"}) == 1
    finally:
        await deps.close()


async def test_a_storm_makes_one_incident_per_group_and_loses_no_notice(database_url: str) -> None:
    """500 notifications for 5 groups, recorded while two runners (two engines: two replicas) work."""
    one, two = make_deps(database_url, retro_alert_sweep_seconds=0.05), make_deps(database_url)
    handler = CountingHandler(delay=0.001)
    runners = [AlertRunner(d, client=None, handler=handler, worker=w)  # type: ignore[arg-type]
               for d, w in ((one, "one"), (two, "two"))]
    try:
        for runner in runners:
            await runner.start()
        ids: list[int] = []
        for start in range(0, 500, 25):
            posted = await asyncio.gather(*(post((one, two)[i % 2], i % 5, i) for i in range(start, start + 25)))
            ids += [n.id or 0 for n, new in posted if new]
            for runner in runners:
                runner.signal.wake()
        assert len(ids) == 500
        for _ in range(2400):  # two minutes at most
            async with one.session() as s:
                left = (await s.exec(select(AlertNotice).where(AlertNotice.status == "pending"))).all()
            if not left:
                break
            await asyncio.sleep(0.05)
        assert not left, f"{len(left)} notices never processed"
        assert sorted(handler.calls) == sorted(ids) and set(handler.calls.values()) == {1}
        assert len(handler.declared) == 5 and set(handler.declared.values()) == {1}
        assert handler.overlaps == [], "two workers handled one group at the same time"
        async with one.session() as s:
            notices = list((await s.exec(select(AlertNotice))).all())
        assert {n.outcome for n in notices} == {"declared", "joined"}
        assert sum(n.outcome == "declared" for n in notices) == 5
    finally:
        for runner in runners:
            await runner.stop()
        await one.close()
        await two.close()


async def test_handled_notifications_are_forgotten_after_their_days_and_pending_ones_never(database_url: str) -> None:
    deps = make_deps(database_url)
    try:
        old_done, _ = await post(deps, 1, 1)
        old_pending, _ = await post(deps, 1, 2)
        recent_done, _ = await post(deps, 1, 3)
        now = deps.now()
        async with deps.session() as session:
            for notice, status, finished in ((old_done, "done", now - timedelta(days=31)),
                                             (old_pending, "pending", None),
                                             (recent_done, "failed", now - timedelta(days=29))):
                row = await session.get(AlertNotice, notice.id)
                assert row is not None
                row.status, row.finished_at, row.received_at = status, finished, now - timedelta(days=40)
                session.add(row)
            await session.commit()
            assert await claims.forget_notices(session, days=30, now=now, chunk=1) == 1
            left = {n.id for n in (await session.exec(select(AlertNotice))).all()}
            assert left == {old_pending.id, recent_done.id}
            assert await claims.forget_notices(session, days=30, now=now) == 0  # idempotent
    finally:
        await deps.close()
