"""The postmortem's review state and the incident's severity path, read back from the chain (pure functions)."""

from __future__ import annotations

from typing import Any

from bot.postmortem.doc_types import Doc
from bot.postmortem.review import REQUESTED, VERDICT, state_of
from bot.postmortem.story import severity_path

Row = tuple[str, str | None, dict[str, Any], str | None, str]


def _asked(*reviewers: str, owner: str = "U0O", by: str = "U0A") -> Row:
    return (REQUESTED, by, {"owner": owner, "reviewers": list(reviewers), "version": 1}, None, "t")


def _said(who: str, verdict: str, version: int = 1, note: str | None = None) -> Row:
    return (VERDICT, who, {"verdict": verdict, "version": version}, note, "t")


def test_the_review_status_follows_each_reviewers_latest_word() -> None:
    assert state_of([], drafted=False).status == "not drafted"
    assert state_of([]).status == "not requested"
    state = state_of([_asked("U1", "U2")])
    assert (state.status, state.owner, state.waiting) == ("in review", "U0O", ["U1", "U2"])
    assert state_of([_asked("U1", "U2"), _said("U1", "approved")]).status == "in review"
    assert state_of([_asked("U1", "U2"), _said("U1", "approved"), _said("U2", "changes")]).status == \
        "changes requested"
    rows = [_asked("U1", "U2"), _said("U1", "approved"), _said("U2", "changes"), _said("U2", "approved", 2)]
    assert state_of(rows).status == "approved" and state_of(rows).words["U2"].version == 2
    # Asking one more reviewer reopens the review; a later request keeps the owner named before unless it names one.
    more = state_of([*rows, _asked("U3", owner="")])
    assert more.status == "in review" and more.reviewers == ["U1", "U2", "U3"] and more.owner == "U0A"


def _doc(*changes: tuple[str, int, int]) -> Doc:
    entries: list[dict[str, Any]] = [{"kind": "declared", "at": "2026-03-06T09:00:00.000000Z", "data": {"severity": 2},
                                      "seq": 1}]
    for n, (at, before, after) in enumerate(changes, start=2):
        entries.append({"kind": "severity_changed", "at": at, "data": {"from": before, "to": after}, "seq": n})
    incident = {"severity": changes[-1][2] if changes else 2, "created_at": "2026-03-06T09:00:00.000000Z",
                "resolved_at": "2026-03-06T12:00:00.000000Z", "closed_at": None}
    return {"entries": entries, "incident": incident}  # type: ignore[typeddict-item]


def test_the_peak_severity_and_the_time_at_each_level() -> None:
    path = severity_path(_doc(("2026-03-06T09:20:00.000000Z", 2, 1), ("2026-03-06T10:05:00.000000Z", 1, 2)))
    assert (path["declared"], path["peak"], path["current"], path["changed"]) == (2, 1, 2, True)
    assert [(s["level"], s["seconds"]) for s in path["steps"]] == [(2, 1200), (1, 2700), (2, 6900)]
    unchanged = severity_path(_doc())
    assert (unchanged["peak"], unchanged["changed"], unchanged["steps"][0]["seconds"]) == (2, False, 10800)
