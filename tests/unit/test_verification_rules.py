"""Verifying mitigations: expectations, durations, the verdict over every sample, and the state an item is in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.errors import UsageError
from bot.followup.expectations import Expectation, evaluate, parse_duration, parse_expect, spoken
from bot.followup.verification import FAILED, REGRESSED, UNVERIFIED, VERIFIED, next_stage, options_of, state_after
from bot.postmortem.entry_text import describe
from handlers.parsing import parse
from handlers.verify_cmds import split_metric
from storage.loop_tables import ActionCheck

STAGES = ["staging", "canary", "prod"]
T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _check(stage: str, outcome: str, minute: int) -> ActionCheck:
    return ActionCheck(id=minute, team_id="T1", incident_id=1, action_id=1, stage=stage, method="metric",
                       outcome=outcome, checked_by="U1", checked_at=T + timedelta(minutes=minute))


def _answer(*series: list[str]) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "err", "pod": f"p{n}"}, "values": [[1700000000 + i, v] for i, v in enumerate(s)]}
        for n, s in enumerate(series)]}}).encode()


@pytest.mark.parametrize(("text", "op", "value"), [("< 0.05", "<", 0.05), (">=0.9", ">=", 0.9), ("= 0", "==", 0.0),
                                                   ("!= -1e3", "!=", -1000.0)])
def test_expectations_read_an_operator_and_a_number(text: str, op: str, value: float) -> None:
    assert parse_expect(text, "u") == Expectation(op, value)


@pytest.mark.parametrize("text", ["0.05", "< five", "<> 1", "< nan", ""])
def test_anything_else_is_refused_with_the_usage_line(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_expect(text, "/retro check …")
    assert err.value.usage == "/retro check …"


def test_every_sample_of_every_series_must_hold() -> None:
    below = Expectation("<", 0.05)
    ok = evaluate(_answer(["0.01", "0.04"], ["0.02"]), below)
    assert (ok.outcome, ok.samples, ok.series, ok.failing) == ("pass", 3, 2, 0)
    assert ok.facts() == {"series": 2, "samples": 3, "failing": 0, "min": "0.01", "max": "0.04", "last": "0.04",
                          "first_failure": None}
    bad = evaluate(_answer(["0.01", "0.04"], ["0.02", "0.07", "NaN"]), below)
    assert (bad.outcome, bad.failing) == ("fail", 2)  # 0.07 breaks it, and NaN never holds
    assert bad.first_failure == 'err{pod="p1"} = 0.07' and bad.facts()["max"] == "0.07"
    assert evaluate(_answer(), below).outcome == "error"  # no samples: nothing was shown to hold


def test_durations_and_their_bounds() -> None:
    assert parse_duration("7d", key="recheck", usage="u", low=timedelta(hours=1), high=timedelta(days=366)) \
        == timedelta(days=7)
    assert spoken(timedelta(days=14)) == "2w" and spoken(timedelta(seconds=90)) == "90s"
    with pytest.raises(UsageError, match="out of range"):
        parse_duration("5m", key="recheck", usage="u", low=timedelta(hours=1), high=timedelta(days=366))
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration("soon", key="window", usage="u", low=timedelta(seconds=1), high=timedelta(days=1))
    assert options_of({"rollback": "revert the flag", "recheck": "1w"}, "u") == ("revert the flag", timedelta(days=7))
    with pytest.raises(UsageError, match="rollback"):
        options_of({"rollback": "  "}, "u")


def test_an_item_is_verified_once_every_stage_passed_in_order() -> None:
    checks = [_check("staging", "pass", 1)]
    assert next_stage(STAGES, checks) == "canary" and state_after(UNVERIFIED, STAGES, checks) == UNVERIFIED
    checks.append(_check("canary", "fail", 2))
    assert state_after(UNVERIFIED, STAGES, checks) == FAILED
    checks += [_check("canary", "pass", 3), _check("prod", "pass", 4)]
    assert next_stage(STAGES, checks) is None and state_after(FAILED, STAGES, checks) == VERIFIED


def test_a_failure_after_verification_is_a_regression_until_every_stage_passes_again() -> None:
    checks = [_check("staging", "pass", 1), _check("canary", "pass", 2), _check("prod", "pass", 3),
              _check("prod", "fail", 4)]
    assert state_after(VERIFIED, STAGES, checks) == REGRESSED
    assert state_after(REGRESSED, STAGES, [*checks, _check("staging", "pass", 5)]) == REGRESSED
    assert state_after(REGRESSED, STAGES, [*checks, _check("prod", "pass", 6)]) == VERIFIED


def test_the_query_is_taken_verbatim_from_backticks() -> None:
    cmd = parse('check A2 stage=prod metric=`sum(rate(err{job="api", env="prod"}[5m])) &gt; 0` expect="&lt; 0.05" '
                "window=30m")
    query, rest = split_metric(cmd)
    assert query == 'sum(rate(err{job="api", env="prod"}[5m])) > 0'
    assert rest.words == ("A2",) and rest.options == {"stage": "prod", "expect": "< 0.05", "window": "30m"}
    one, _ = split_metric(parse("check A1 stage=staging metric=up expect=\"== 1\""))
    assert one == "up"
    with pytest.raises(UsageError, match="never closes"):
        split_metric(parse("check A1 stage=staging metric=`up expect=1"))


def test_the_record_words_checks_verification_and_regression() -> None:
    def line(kind: str, **data: object) -> str:
        entry: Any = {"kind": kind, "text": None, "data": data}
        return describe(entry, cast(Any, {}))

    assert line("action_check", number=1, stage="canary", method="metric", outcome="fail", evidence=4,
                scheduled=True) == "A1 canary scheduled re-check (metric): fail (E4)"
    assert line("action_verified", number=1, stages=STAGES) == \
        "A1 verified: every stage passed (staging → canary → prod)"
    assert line("action_regressed", number=1, stage="prod") == \
        "A1 regressed: its prod check failed after it was verified"
    assert line("action_verify_set", number=2, rollback="unpin", recheck_seconds=604800) == \
        "A2 verification noted (rollback: unpin; metric checks again every 7d)"
