"""The hash chain detects every kind of tampering and names the first bad entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.canonical import canonical_json, chain_hash, sha256_hex
from bot.record.chain import entry_payload, verify_entries
from storage.models import GENESIS_HASH, TimelineEntry

T0 = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)


def build(n: int) -> list[TimelineEntry]:
    entries, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        text = f"message {i} — ünïcode"
        e = TimelineEntry(incident_id=1, seq=i, at=T0 + timedelta(seconds=i), kind="message", actor="U1",
                          text=text, text_sha256=sha256_hex(text), data={"n": i}, prev_hash=prev, hash="")
        e.hash = chain_hash(prev, entry_payload(e))
        prev = e.hash
        entries.append(e)
    return entries


def test_intact_chain_verifies() -> None:
    entries = build(5)
    report = verify_entries(entries, expected_head=entries[-1].hash, expected_count=5)
    assert report.ok and report.count == 5 and report.head == entries[-1].hash


def test_altered_text_is_named() -> None:
    entries = build(5)
    entries[2].text = "rewritten history"
    report = verify_entries(entries)
    assert not report.ok and report.bad_seq == 3 and "digest" in report.reason


def test_altered_data_is_named() -> None:
    entries = build(5)
    entries[3].data = {"n": 99}
    assert verify_entries(entries).bad_seq == 4


def test_deleted_entry_is_a_gap() -> None:
    entries = build(5)
    del entries[1]
    report = verify_entries(entries)
    assert report.bad_seq == 3 and "gap" in report.reason


def test_truncated_tail_is_caught_by_the_head() -> None:
    entries = build(5)
    report = verify_entries(entries[:4], expected_head=entries[-1].hash, expected_count=5)
    assert not report.ok


def test_purged_text_still_verifies() -> None:
    entries = build(3)
    entries[1].text = None
    assert verify_entries(entries).ok


def test_canonical_json_is_stable() -> None:
    a = canonical_json({"b": 1, "a": [T0, "é"]})
    assert a == '{"a":["2026-05-01T14:00:00.000000Z","é"],"b":1}'
