"""The parser helps: suggestions for typos, roles by name, due dates in words, quotes inside quoted titles, options
that stand in for a reference, errors that name what is missing, readable channel slugs in any script."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.catalog import load_catalog
from bot.errors import UsageError
from bot.hints import closest, did_you_mean, distance
from bot.incident import evidence
from bot.incident.incidents import base_channel_name, short_id, slugify
from bot.safety import neutralise
from bot.timeparse import parse_due, parse_occurred
from handlers.options import reason_of
from handlers.parsing import USAGE, parse

WEDNESDAY = date(2026, 3, 4)
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_a_swap_of_two_letters_is_one_edit() -> None:
    assert distance("stauts", "status") == 1 and distance("status", "status") == 0 and distance("", "ab") == 2


@pytest.mark.parametrize(("typed", "meant"), [
    ("stauts", ["status"]), ("evidnce", ["evidence"]), ("hypotesis", ["hypothesis"]), ("notes", ["note"]),
    ("STATUS", []), ("stat", ["start", "stats"]), ("xyz", []), ("", []),
])
def test_closest_subcommands(typed: str, meant: list[str]) -> None:
    assert closest(typed, USAGE if typed != "STATUS" else ["status"]) == meant


def test_a_typo_of_a_subcommand_is_answered_with_the_one_meant_and_its_usage() -> None:
    with pytest.raises(UsageError) as caught:
        parse("stauts mitigated")
    assert caught.value.problem == "Unknown subcommand `stauts`. Did you mean `status`?"
    assert caught.value.usage == USAGE["status"]


def test_a_typo_of_an_option_is_answered_with_the_option_meant() -> None:
    with pytest.raises(UsageError) as caught:
        parse("list pgae=2").allow_options("page")
    assert "Did you mean `page=`?" in caught.value.problem and caught.value.usage == USAGE["list"]
    assert did_you_mean("colour", ["sev", "type", "model", "private"]) == ""


def test_a_reason_is_an_option_or_the_words_after_the_value_but_not_both() -> None:
    cmd, reason = reason_of(parse('status mitigated reason="flag churn_v2 off"'))
    assert (cmd.words, reason) == (("mitigated",), "flag churn_v2 off")
    assert reason_of(parse("status mitigated rolled back: p=0.91"))[1] == "rolled back: p=0.91"
    with pytest.raises(UsageError, match="Give the reason once"):
        reason_of(parse('status mitigated flipped reason="flag off"'))
    with pytest.raises(UsageError, match="Did you mean `reason=`"):
        reason_of(parse('status mitigated reson="flag off"'))


@pytest.mark.parametrize(("typed", "title"), [
    ('"Churn model\'s \\"v2\\" calibration" sev=2', 'Churn model\'s "v2" calibration'),
    ("\u201cChurn model\u2019s \u201cv2\u201d calibration\u201d sev=2",
     "Churn model\u2019s \u201cv2\u201d calibration"),
    ("'The \\'v2\\' rollout' sev=2", "The 'v2' rollout"),
    ('"unclosed \\" quote sev=2', '"unclosed \\" quote'),
])
def test_quotes_inside_a_quoted_title_are_kept(typed: str, title: str) -> None:
    cmd = parse(f"start {typed}", escaped=False)
    assert " ".join(cmd.words) == title and cmd.options.get("sev") == "2"


@pytest.mark.parametrize(("typed", "due"), [
    ("friday", date(2026, 3, 6)), ("Fri", date(2026, 3, 6)), ("wednesday", date(2026, 3, 11)),
    ("next friday", date(2026, 3, 6)), ("next week", date(2026, 3, 9)), ("in 3 days", date(2026, 3, 7)),
    ("in a week", date(2026, 3, 11)), ("in 2  weeks", date(2026, 3, 18)), ("eod", WEDNESDAY),
    ("end of day", WEDNESDAY), ("today", WEDNESDAY), ("tomorrow", date(2026, 3, 5)), ("eow", date(2026, 3, 6)),
    ("+3d", date(2026, 3, 7)), ("+1w", date(2026, 3, 11)), ("2026-04-01", date(2026, 4, 1)),
])
def test_due_dates_in_words(typed: str, due: date) -> None:
    assert parse_due(typed, today=WEDNESDAY, usage="u") == due


def test_a_due_date_that_is_none_names_the_forms() -> None:
    with pytest.raises(UsageError, match="next week") as caught:
        parse_due("someday", today=WEDNESDAY, usage=USAGE["due"])
    assert caught.value.usage == "/retro due A<n> <date>"


@pytest.mark.parametrize(("typed", "at"), [
    ("friday 16:30", datetime(2026, 2, 27, 16, 30, tzinfo=UTC)), ("wed 09:15", datetime(2026, 3, 4, 9, 15, tzinfo=UTC)),
    ("last wednesday 09:15", datetime(2026, 2, 25, 9, 15, tzinfo=UTC)),
    ("Monday 8:00", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
])
def test_when_it_happened_on_a_named_day_looks_back(typed: str, at: datetime) -> None:
    assert parse_occurred(typed, now=NOW, tz=ZoneInfo("UTC"), usage="u") == at


def test_roles_by_their_display_names() -> None:
    catalog = load_catalog()
    found = {typed: getattr(catalog.role_named(typed), "id", None)
             for typed in ("comms", "communications", "data owner", "Data-Owner", "incident commander", "ML owner",
                           "operations", "weather")}
    assert found == {"comms": "comms", "communications": "comms", "data owner": "data-owner",
                     "Data-Owner": "data-owner", "incident commander": "commander", "ML owner": "ml-owner",
                     "operations": "ops", "weather": None}


def test_flag_model_and_snapshot_stand_in_for_the_reference() -> None:
    flag = evidence.from_words(["feature-flag"], {"flag": "churn_v2:on"}, now=NOW)
    assert (flag.kind, flag.ref, flag.options["flag"]) == ("feature-flag", "churn_v2:on", "churn_v2:on")
    noted = evidence.from_words(["feature-flag", "it", "was", "on"], {"flag": "churn_v2:on"}, now=NOW)
    assert (noted.ref, noted.note) == ("churn_v2:on", "it was on")
    assert evidence.from_words([], {"model": "churn@3"}, now=NOW).kind == "model"
    dataset = evidence.from_words(["dataset"], {"snapshot": "s3://lake/churn/2026-03-04"}, now=NOW)
    assert dataset.ref == "s3://lake/churn/2026-03-04"
    linked = evidence.from_words(["model", "mlflow://models/churn/3", "the", "candidate"], {"model": "churn@3"},
                                 now=NOW)
    assert (linked.ref, linked.note) == ("mlflow://models/churn/3", "the candidate")


@pytest.mark.parametrize(("words", "options", "problem"), [
    (["feature-flag"], {}, "Give a reference for the feature-flag evidence (or `flag=`)"),
    (["log"], {}, "Give a reference for the log evidence: a URL, id, query or name."),
    ([], {}, "Give the kind of evidence and its reference"),
    (["feature-flg", "x:on"], {}, "Unknown evidence kind `feature-flg`. Did you mean `feature-flag`?"),
    (["log", "x"], {"modle": "a@1"}, "Unknown option(s): `modle=`. Did you mean `model=`?"),
])
def test_evidence_errors_name_what_is_missing(words: list[str], options: dict[str, str], problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        evidence.from_words(words, options, now=NOW)
    assert caught.value.problem.startswith(problem) and caught.value.usage == evidence.EVIDENCE_USAGE


@pytest.mark.parametrize(("title", "slug"), [
    ("Modèle de dérive", "modele-de-derive"), ("推荐模型漂移", "tuijianmoxingpiaoyi"),
    ("Модель оттока", "model-ottoka"), ("Churn model's \"v2\" calibration", "churn-models-v2-calibration"),
    ("Grüße aus Köln", "grusse-aus-koln"), ("🔥🔥🔥", "fire-fire-fire"), ("모델 드리프트", "model-deulipeuteu"),
])
def test_titles_in_any_script_get_a_readable_slug(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize("title", ["---", "\u200b\ufeff", "¿?¡!"])
def test_a_title_with_nothing_readable_gets_a_short_id_never_a_placeholder(title: str) -> None:
    slug = slugify(title)
    assert slug == short_id(title) and len(slug) == 6 and slug != "incident"
    assert base_channel_name(title, NOW) == f"inc-20260304-{slug}"


def test_a_long_slug_is_cut_between_words() -> None:
    assert slugify("the fraud model precision dropped in every region after the friday deploy") == \
        "the-fraud-model-precision-dropped-in-every-region"


def test_a_mention_without_its_name_is_named_from_the_names_given() -> None:
    assert neutralise("ask <@U0ERIN> and <@U0BOB|bob>", {"U0ERIN": "erin"}) == "ask @erin and @bob"
    assert neutralise("ask <@U0ERIN>") == "ask @U0ERIN"


def test_a_stand_in_without_a_kind_takes_the_words_as_its_note() -> None:
    model = evidence.from_words(["the", "candidate"], {"model": "churn@3"}, now=NOW)
    assert (model.kind, model.ref, model.note) == ("model", "churn@3", "the candidate")
    with pytest.raises(UsageError, match="Did you mean `feature-flag`"):
        evidence.from_words(["feature-flg"], {"flag": "x:on"}, now=NOW)
