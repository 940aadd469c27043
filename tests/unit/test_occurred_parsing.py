"""`at=`: when something already happened, as people type it, read in the team's timezone; refused when it cannot
be (the future, a day without a time, nonsense), with a message naming what to type."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UsageError
from bot.timeparse import parse_occurred, spoken
from handlers.parsing import USAGE, WHEN_HELP, occurred, parse

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 6, 16, 39, tzinfo=UTC)  # 17:39 in Berlin


@pytest.mark.parametrize(("typed", "expected"), [
    ("10:05", datetime(2026, 12, 6, 9, 5, tzinfo=UTC)),  # today, team time
    ("9:05:30", datetime(2026, 12, 6, 8, 5, 30, tzinfo=UTC)),
    ("2026-12-06T10:05Z", datetime(2026, 12, 6, 10, 5, tzinfo=UTC)),
    ("2026-12-06T10:05", datetime(2026, 12, 6, 9, 5, tzinfo=UTC)),  # no offset: team time
    ("2026-12-06 10:05+01:00", datetime(2026, 12, 6, 9, 5, tzinfo=UTC)),
    ("-15m", datetime(2026, 12, 6, 16, 24, tzinfo=UTC)),
    ("-2h", datetime(2026, 12, 6, 14, 39, tzinfo=UTC)),
    ("-1d", datetime(2026, 12, 5, 16, 39, tzinfo=UTC)),
    ("yesterday 23:10", datetime(2026, 12, 5, 22, 10, tzinfo=UTC)),
    ("Today 08:00", datetime(2026, 12, 6, 7, 0, tzinfo=UTC)),
    ("now", NOW),
    ("17:39", NOW),
])
def test_the_ways_to_say_when(typed: str, expected: datetime) -> None:
    assert parse_occurred(typed, now=NOW, tz=BERLIN, usage="u") == expected


def test_summer_time_is_the_teams_too() -> None:
    july = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert parse_occurred("10:05", now=july, tz=BERLIN, usage="u") == datetime(2026, 7, 1, 8, 5, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "said"), [
    ("18:00", '`at=18:00` is in the future (18:00 CET; it is 17:39 CET now): `at=` says when something already '
              'happened. For 18:00 yesterday, write at="yesterday 18:00".'),
    ("+5m", "`at=+5m` is in the future (17:44 CET; it is 17:39 CET now): `at=` says when something already "
            "happened. For 5m ago, write at=-5m."),
    ("2026-12-07T09:00Z", "`at=2026-12-07T09:00Z` is in the future"),
    ("soon", '`at=soon` is not a time. Use 10:05 (today, team time), "yesterday 23:10", "friday 16:30", '
             '2026-12-06T10:05Z, or -15m / -2h / -1d.'),
    ("25:00", "`at=25:00` is not a time."),
    ("yesterday", '`at=yesterday` needs a time of day, in quotes: at="yesterday 23:10".'),
    ("2026-12-06", "`at=2026-12-06` is a day; give the time too, like 2026-12-06T10:05 (team time)"),
    ("2024-01-01T10:00Z", "`at=2024-01-01T10:00Z` is more than a year ago; check the date."),
    ("", "`at=` is not a time."),
])
def test_what_cannot_be_when_it_happened_is_refused_with_the_usage_line(typed: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_occurred(typed, now=NOW, tz=BERLIN, usage=USAGE["note"])
    assert caught.value.problem.startswith(said) and caught.value.usage == USAGE["note"]


def test_a_reply_says_the_time_in_team_time() -> None:
    assert spoken(datetime(2026, 12, 6, 9, 5, tzinfo=UTC), now=NOW, tz=BERLIN) == "10:05 CET"
    assert spoken(datetime(2026, 12, 5, 22, 10, tzinfo=UTC), now=NOW, tz=BERLIN) == "yesterday 23:10 CET"
    assert spoken(datetime(2026, 12, 1, 9, 5, tzinfo=UTC), now=NOW, tz=BERLIN) == "2026-12-01 10:05 CET"


def test_at_is_taken_out_of_a_note_wherever_it_is_typed() -> None:
    for text in ("note at=10:05 flag churn_v2 turned off", "note flag churn_v2 turned off at=10:05",
                 'note flag churn_v2 at="10:05" turned off'):
        cmd, at = occurred(parse(text), now=NOW, tz=BERLIN)
        assert at == datetime(2026, 12, 6, 9, 5, tzinfo=UTC)
        assert cmd.rest == "flag churn_v2 turned off" and "at" not in cmd.options


def test_a_quoted_day_and_time_and_escaped_text_survive() -> None:
    cmd, at = occurred(parse('note at=“yesterday 23:10” p99 &gt; 2s &amp; rising, "as seen" at 10:05'),
                       now=NOW, tz=BERLIN)
    assert at == datetime(2026, 12, 5, 22, 10, tzinfo=UTC)
    assert cmd.rest == 'p99 > 2s & rising, "as seen" at 10:05'


def test_reasons_and_verdict_notes_lose_only_the_option() -> None:
    cmd, at = occurred(parse("status mitigated rolled back p99=80ms at=-15m"), now=NOW, tz=BERLIN)
    assert at == datetime(2026, 12, 6, 16, 24, tzinfo=UTC)
    assert cmd.words[0] == "mitigated" and cmd.after_first_word() == "rolled back p99=80ms"
    cmd, _ = occurred(parse("confirm H2 E1 E3 at=10:05 the DAG was paused"), now=NOW, tz=BERLIN)
    assert cmd.rest == "H2 E1 E3 the DAG was paused"


def test_without_at_nothing_changes() -> None:
    cmd = parse("note the flag is at 10 percent")
    assert occurred(cmd, now=NOW, tz=BERLIN) == (cmd, None)


def test_an_at_label_inside_a_promql_query_is_the_querys() -> None:
    cmd = parse('evidence metric `rate(x{at="b"}[5m])` spike')
    assert occurred(cmd, now=NOW, tz=BERLIN) == (cmd, None)
    cmd, at = occurred(parse("evidence metric `rate(x[5m])` spike at=-2h"), now=NOW, tz=BERLIN)
    assert at is not None and cmd.rest == "metric `rate(x[5m])` spike"


def test_the_usage_lines_and_help_show_at() -> None:
    for name in ("note", "status", "sev", "evidence", "hypothesis", "confirm", "refute", "inconclusive"):
        assert "[at=<when>]" in USAGE[name]
    assert "[mitigated=<when>]" in USAGE["triage"]
    assert WHEN_HELP.startswith("<when>: when it happened") and '"yesterday 23:10"' in WHEN_HELP
