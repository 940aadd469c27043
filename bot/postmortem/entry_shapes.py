"""The `data` of the timeline entries that closing the loop added: alerts, verification, recurrences, patterns.

Each shape names the keys the recording code writes (`NotRequired` when it writes them only sometimes), as their
JSON values; `LATER_SHAPES` joins `entry_data.SHAPES`, so loading a bundle checks these kinds too.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from bot.postmortem.doc_types import JSON


class AlertSighting(TypedDict):
    """`alert` (the words are the entry's text): one change of an alert's state, from which notification, and the
    evidence number when this sighting first kept the alert as evidence."""

    change: str  # firing | firing again | resolved
    ends_at: str | None
    evidence_number: int | None
    fingerprint: str
    notice: int
    payload_sha256: str
    starts_at: str | None
    status: str


class ActionVerifySet(TypedDict):
    """`action_verify_set`: the item's rollback and re-check cadence, each only when it was given."""

    number: int
    recheck_seconds: NotRequired[int]
    rollback: NotRequired[str]


class ActionCheck(TypedDict):
    """`action_check`: one check of an item at a stage, its outcome, and the evidence (and digest) it names."""

    check: int
    evidence: int | None
    evidence_sha256: str | None
    method: str
    number: int
    outcome: str
    scheduled: bool
    spec: dict[str, JSON]
    stage: str


class ActionVerified(TypedDict):
    """`action_verified`: the item passed every stage, listed in order."""

    number: int
    stages: list[str]


class ActionRegressed(TypedDict):
    """`action_regressed`: a verified item failed a check again (which one, at which stage)."""

    check: int
    number: int
    scheduled: bool
    stage: str


class RecurrenceDecided(TypedDict):
    """`recurrence_confirmed` and `recurrence_dismissed`: the earlier incident offered, and why it was offered."""

    earlier: str
    earlier_id: int
    reason: str


class PatternSaved(TypedDict):
    """`pattern_saved` (the name is the entry's text): the card's number, its hypothesis and action items."""

    actions: list[int]
    hypothesis: int
    number: int


class PatternUsed(TypedDict):
    """`pattern_used` (the card's name is the entry's text): the hypothesis started from card P<number>."""

    hypothesis: int
    number: int


class PatternsSuggested(TypedDict):
    """`patterns_suggested`: the cards offered to the incident."""

    numbers: list[int]


LATER_SHAPES: dict[str, object] = {
    "alert": AlertSighting, "action_verify_set": ActionVerifySet, "action_check": ActionCheck,
    "action_verified": ActionVerified, "action_regressed": ActionRegressed,
    "recurrence_confirmed": RecurrenceDecided, "recurrence_dismissed": RecurrenceDecided,
    "pattern_saved": PatternSaved, "pattern_used": PatternUsed, "patterns_suggested": PatternsSuggested,
}
