"""Mitigations verified stage by stage against a real Prometheus: a check that passes, one that fails with its
rollback, the order of stages, and a scheduled re-check that regresses and tells the owner and the commander."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.followup import rechecks
from bot.followup.verification import action_states, verified_actions
from bot.slack.sweep import sweep
from storage.loop_tables import ActionCheck, ActionVerification
from storage.models import ActionItem, Reminder
from tests.e2e.helpers import declare, entries, run, texts
from tests.e2e.servers import Gauge, prometheus_server
from tests.e2e.test_collectors_prometheus import scraped
from tests.unit.test_datacheck import rows, to_csv

QUERY = 'metric=`retro_test_value{source="test"}` expect="< 0.05" window=2s'


@pytest.fixture(scope="module")
def prom() -> Iterator[tuple[str, Gauge]]:
    """Prometheus scraping the test's gauge every second."""
    with Gauge() as gauge, prometheus_server(gauge.port) as url:
        yield url, gauge


async def _gauge_at(url: str, gauge: Gauge, value: float) -> None:
    """The gauge at `value`, scraped, and held long enough that a 2s window sees nothing else."""
    gauge.value = value
    await scraped(url, value)
    await asyncio.sleep(2.2)


async def _checks(stack: LocalStack, number: int) -> list[ActionCheck]:
    async with stack.deps.session() as s:
        item = (await s.exec(select(ActionItem).where(ActionItem.number == number))).one()
        return list((await s.exec(select(ActionCheck).where(ActionCheck.action_id == item.id)
                                  .order_by(col(ActionCheck.id)))).all())


async def _verification(stack: LocalStack, number: int) -> ActionVerification:
    async with stack.deps.session() as s:
        item = (await s.exec(select(ActionItem).where(ActionItem.number == number))).one()
        found = await s.get(ActionVerification, item.id)
        assert found is not None
        await s.refresh(found)
        return found


async def test_verified_in_order_a_failing_check_names_its_rollback_and_a_recheck_regresses(
        database_url: str, prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    await _gauge_at(url, gauge, 0.02)
    async with local_stack(database_url=database_url, env={"prometheus_url": url}) as stack:
        drv = stack.driver
        incident, _ = await declare(stack, "Feature store reader errors")
        ch = f"#{incident.channel_name}"
        added = await run(stack, "alice", ch, 'action Pin the reader to v1 owner=@bob due=+3d kind=fix '
                                              'rollback="unpin the reader: flag fs_reader_v1 off" recheck=7d')
        assert "A1 verification — rollback: unpin the reader: flag fs_reader_v1 off; metric checks run again every " \
               "1w once verified." in added.text()
        early = await run(stack, "bob", ch, f"check A1 stage=prod {QUERY}")
        assert "A1 has not passed staging yet" in early.text() and await _checks(stack, 1) == []

        await run(stack, "bob", ch, f"check A1 stage=staging {QUERY}")
        said = texts(drv.messages(ch))
        assert "*A1* passed *staging* (metric)" in said and "held `&lt; 0.05`" in said
        assert "min 0.02, max 0.02, last 0.02" in said and "Next stage for A1: *canary*" in said
        (staging,) = await _checks(stack, 1)
        assert (staging.outcome, staging.method, staging.evidence_number) == ("pass", "metric", 1)
        assert staging.spec["verdict"]["failing"] == 0 and staging.spec["window"] == "2s"

        await run(stack, "bob", ch, "evidence other canary-report-7 canary at 5% for an hour, error rate flat")
        await run(stack, "bob", ch, "check A1 stage=canary result=pass evidence=E2 canary report attached")
        await run(stack, "bob", ch, f"check A1 stage=prod {QUERY}")
        said = texts(drv.messages(ch))
        assert "reported passed with *E2*" in said and ":trophy: *A1 is verified*" in said
        assert "Metric checks run again on" in said
        ver = await _verification(stack, 1)
        assert ver.state == "verified" and ver.verified_at is not None and ver.recheck_seconds == 7 * 86400
        async with stack.deps.session() as s:
            due = await rechecks.pending_at(s, ver.action_id)
            (held,) = await verified_actions(s, incident.team_id)
        assert due == ver.verified_at + timedelta(days=7)
        assert (held.action_id, held.number, held.regressed_at) == (ver.action_id, 1, None)

        await _gauge_at(url, gauge, 0.09)
        await run(stack, "alice", ch, 'action Guard the null rate owner=@bob due=+5d kind=guardrail '
                                      'rollback="disable the guardrail"')
        await run(stack, "bob", ch, f"check A2 stage=staging {QUERY}")
        said = texts(drv.messages(ch))
        assert "*A2* failed *staging* (metric)" in said and "broke `&lt; 0.05`" in said and "max 0.09" in said
        assert "Rollback noted on A2: disable the guardrail" in said
        assert (await _verification(stack, 2)).state == "failed"

        # A week passes: the re-check falls due, and the gauge is still bad.
        async with stack.deps.session() as s:
            await s.exec(update(Reminder).where(col(Reminder.kind) == "recheck")
                         .values(due_at=stack.deps.now() - timedelta(seconds=1)))
            await s.commit()
        report = await sweep(stack.deps, stack.bolt.client)
        await stack.settle()
        assert report.outcomes["sent"] == 3  # the re-check, then a notice to the owner and one to the commander
        ver = await _verification(stack, 1)
        assert ver.state == "regressed" and ver.regressed_at is not None
        rerun = [c for c in await _checks(stack, 1) if c.scheduled]
        assert [(c.stage, c.outcome) for c in rerun] == [("staging", "fail"), ("prod", "fail")]
        for person in ("bob", "alice"):  # the owner, and the commander who declared
            dm = texts(drv.dms(person))
            assert "*A1 regressed*" in dm and "unpin the reader: flag fs_reader_v1 off" in dm
        assert "(scheduled re-check)" in texts(drv.messages(ch))
        async with stack.deps.session() as s:
            assert await action_states(s, incident.id or 0) == {1: "regressed", 2: "failed"}
            assert (await verified_actions(s, incident.team_id))[0].regressed_at == ver.regressed_at
            assert await rechecks.pending_at(s, ver.action_id) is None  # a regressed item is not re-checked
        kinds = [e.kind for e in await entries(stack, incident.id or 0)]
        assert kinds.count("action_check") == 6 and "action_verified" in kinds and "action_regressed" in kinds
        assert kinds.count("action_verify_set") == 2

        closing = await run(stack, "alice", ch, "status closed")
        assert "2 mitigations not verified" in closing.text() and "— regressed" in closing.text()


async def test_a_data_check_passes_a_stage_when_nothing_is_flagged(stack: LocalStack) -> None:
    drv = stack.driver
    incident, _ = await declare(stack, "Fraud scores shifted")
    ch = incident.channel_name
    await run(stack, "alice", f"#{ch}", "action Rebuild the amount feature owner=@bob due=+3d kind=fix")
    await drv.share_file("dave", ch, "train.csv", to_csv(rows(1000, seed=11)))
    await drv.share_file("dave", ch, "fixed.csv", to_csv(rows(1000, seed=11)))
    await drv.share_file("dave", ch, "canary.csv", to_csv(rows(1000, seed=12, amount=lambda r: round(
        r.lognormvariate(3.5, 0.6), 2))))
    await stack.settle()
    await run(stack, "bob", ch, "check A1 stage=staging datacheck baseline=train.csv current=fixed.csv key=id")
    await run(stack, "bob", ch, "check A1 stage=canary datacheck baseline=train.csv current=canary.csv key=id")
    said = texts(drv.messages(ch))
    assert "*A1* passed *staging* (datacheck)" in said and "the data check flagged nothing" in said
    assert "*A1* failed *canary* (datacheck)" in said and "the data check flagged `amount`" in said
    checks = await _checks(stack, 1)
    assert [(c.stage, c.outcome, c.evidence_number) for c in checks] == [("staging", "pass", 1), ("canary", "fail", 2)]
    assert checks[1].spec["flagged"] == ["amount"]
    async with stack.deps.session() as s:
        assert await action_states(s, incident.id or 0) == {1: "failed"}
