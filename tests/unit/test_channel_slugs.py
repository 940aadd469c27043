"""Incident channel names always pass conversations.create's rules, whatever the title and the suffix."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.incident.incidents import base_channel_name, suffixed

SLACK_NAME = re.compile(r"[a-z0-9_-]{1,80}")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _legal(name: str) -> bool:
    return bool(SLACK_NAME.fullmatch(name)) and any(ch.isalnum() for ch in name)


@pytest.mark.parametrize("title", ["Modèle de dérive", "推荐模型漂移", "İSTANBUL ǅ ß ²", "🔥🔥🔥", "---", "   ",
                                   "a &amp; b &lt;tag&gt;", "x" * 500, "A-" * 200, "<@U123|alice> broke it",
                                   "\u0000\u200b\ufeff", "Ⅻ ﬁ ℌ"])
@pytest.mark.parametrize("n", [1, 2, 9, 10, 999, 10**6])
def test_tricky_titles(title: str, n: int) -> None:
    assert _legal(suffixed(base_channel_name(title, NOW), n))


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=300), n=st.integers(min_value=1, max_value=10**9))
def test_any_title_and_suffix(title: str, n: int) -> None:
    base = base_channel_name(title, NOW)
    name = suffixed(base, n)
    assert _legal(name)
    assert n == 1 or name.endswith(f"-{n}")
