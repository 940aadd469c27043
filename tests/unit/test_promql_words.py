"""Where an expression typed after `/retro evidence metric` without backticks ends: one word is taken as it is; an
expression with spaces is found whole (so the refusal can show it in backticks), never cut into a query and a note."""

from __future__ import annotations

import pytest

from bot.collectors.promql import refuse_unquoted, spaced_expression
from bot.errors import UsageError


@pytest.mark.parametrize(("typed", "expression", "rest"), [
    ("rate(http_requests_total[5m]) > 5 the spike", "rate(http_requests_total[5m]) > 5", "the spike"),
    ("sum by (job) (rate(errors[5m])) per job", "sum by (job) (rate(errors[5m]))", "per job"),
    ("sum(rate(errors[5m])) by (job) per job", "sum(rate(errors[5m])) by (job)", "per job"),
    ('up{job="api", env="prod"} both down', 'up{job="api", env="prod"}', "both down"),
    ('up{job="my job"} down', 'up{job="my job"}', "down"),
    ("histogram_quantile(0.99, sum(rate(h[5m])) by (le)) p99", "histogram_quantile(0.99, sum(rate(h[5m])) by (le))",
     "p99"),
    ("up == 0 and on (instance) node_up the node", "up == 0 and on (instance) node_up", "the node"),
    ("rate(x[5m]) offset 1h a day before", "rate(x[5m]) offset 1h", "a day before"),
    ("rate(x[5m] from=-1h", "rate(x[5m] from=-1h", ""),  # an unclosed bracket runs to the end
])
def test_an_expression_with_spaces_is_found_whole(typed: str, expression: str, rest: str) -> None:
    assert spaced_expression(typed) == (expression, rest)


@pytest.mark.parametrize("typed", [
    "up", "up the exporter came back", "up it's back", "up by the deploy", "up (prod cluster)",
    "rate(x[5m]) from=-1h to=now", "<https://grafana.example.com/d/fraud> precision fell",
    "https://grafana.example.com/d/fraud precision fell",
])
def test_one_word_or_a_link_is_the_whole_reference(typed: str) -> None:
    assert spaced_expression(typed) is None


def test_the_refusal_shows_the_command_with_backticks() -> None:
    with pytest.raises(UsageError) as caught:
        refuse_unquoted("metric up > 0 at=-5m flapping")
    assert caught.value.problem.endswith("```/retro evidence metric `up > 0` at=-5m flapping```")
    refuse_unquoted("metric `up > 0` flapping")  # in backticks: taken
    refuse_unquoted("log up > 0")  # other kinds are not PromQL
