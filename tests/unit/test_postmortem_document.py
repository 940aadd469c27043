"""The incident document, per-incident metrics and versioned drafts."""

from __future__ import annotations

import ast
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.canonical import canonical_json, sha256_hex
from bot.insights.recurrence import CONFIRMED, DISMISSED
from bot.postmortem.doc_check import DocumentError, check_document
from bot.postmortem.document import FORMAT, build, key_seqs, user_ids
from bot.postmortem.draft import latest_people, prepare, record_draft, template_environment
from bot.postmortem.entry_data import SHAPES, payload
from bot.postmortem.entry_shapes import LATER_SHAPES
from bot.postmortem.export import DOCUMENT, BundleError, entry_of, load_document
from bot.postmortem.learning import FACTOR, TRIGGER
from bot.postmortem.measures import humanise, incident_metrics, percentile
from bot.record import chain, timeline
from storage.models import PostmortemDraft
from tests.postmortem_world import ALICE, BOB, CAROL, DAVE, PEOPLE, T0, document_of, fraud_incident, world


def _unsorted(value: object, where: str = "") -> list[str]:
    """Where a mapping's keys are not in canonical (sorted) order."""
    if isinstance(value, dict):
        here = [where or "document"] if list(value) != sorted(value) else []
        return here + [w for k, v in value.items() for w in _unsorted(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in _unsorted(v, f"{where}[{i}]")]
    return []


async def test_the_document_is_canonical_and_complete(database_url: str) -> None:
    async with world(database_url) as w:
        inc = await fraud_incident(w)
        doc = await document_of(w, inc)
    assert doc["format"] == FORMAT
    assert json.loads(canonical_json(doc)) == doc
    assert list(doc) == sorted(doc)  # the same key order a reader of incident.json gets
    assert all(list(e) == sorted(e) and list(e["data"]) == sorted(e["data"]) for e in doc["entries"])
    assert _unsorted(doc) == []  # every mapping, at every depth
    assert check_document(json.loads(canonical_json(doc))) == doc
    assert doc["incident"]["entry_count"] == len(doc["entries"]) == inc.entry_count
    assert doc["incident"]["head_hash"] == doc["entries"][-1]["hash"] == inc.head_hash
    assert [e["number"] for e in doc["evidence"]] == [1, 2, 3]
    assert [h["verdict"] for h in doc["hypotheses"]] == ["refuted", "confirmed", "open"]
    assert [a["due"] for a in doc["actions"]] == ["2026-03-19", "2026-03-26"]
    triage = doc["triage"]
    assert triage is not None and triage["fields"]["customer_impact"].startswith("Good payments")
    assert doc["incident"]["impact_started_at"] == "2026-03-12T12:15:00.000000Z"
    assert user_ids(doc) == sorted({ALICE, BOB, CAROL, DAVE})
    assert doc["people"] == dict(sorted(PEOPLE.items()))


async def test_the_document_reads_the_incident_afresh(database_url: str) -> None:
    async with world(database_url) as w:
        inc = await fraud_incident(w)
        async with w.session() as s:
            stale = inc.model_copy()
            await timeline.add_note(s, incident=inc, text="later note", actor=BOB, now=T0 + timedelta(hours=3))
            doc = await build(s, stale, catalog=w.catalog)
    assert doc["entries"][-1]["text"] == "later note"
    assert doc["incident"]["entry_count"] == stale.entry_count + 1
    report = chain.verify_entries(entry_of(e) for e in doc["entries"])
    assert report.ok and report.head == doc["incident"]["head_hash"]


async def test_an_entry_payload_is_read_only_as_its_own_kind(database_url: str) -> None:
    async with world(database_url) as w:
        doc = await document_of(w, await fraud_incident(w))
    status = next(e for e in doc["entries"] if e["kind"] == "status_changed")
    assert payload(status, "status_changed")["to"] == "mitigated"
    with pytest.raises(ValueError, match="is status_changed, not severity_changed"):
        payload(status, "severity_changed")


async def test_key_events_include_messages_marked_afterwards(database_url: str) -> None:
    async with world(database_url) as w:
        inc = await fraud_incident(w, messages=3)
        async with w.session() as s:
            msg = next(e for e in await chain.entries_of(s, inc.id or 0) if e.kind == "message")
            await timeline.record(s, inc, timeline.Marked(inc.channel_id, ALICE, msg.slack_ts or "", "pin"),
                                  T0 + timedelta(hours=2))
            await s.commit()
        doc = await document_of(w, inc)
    keys = key_seqs(doc["entries"])
    assert msg.seq in keys
    assert not any(e["seq"] in keys for e in doc["entries"] if e["kind"] == "key_event_marked")


async def test_metrics_measure_milestones_and_count_people_and_actions(database_url: str) -> None:
    async with world(database_url) as w:
        doc = await document_of(w, await fraud_incident(w))
    m = incident_metrics(doc)
    spans = {s["key"]: s["seconds"] for s in m["spans"]}
    assert spans == {"detect": 45 * 60, "insight": 45 * 60, "mitigate": 70 * 60, "resolve": 95 * 60,
                     "impact": 115 * 60}
    assert m["participants"] == sorted([ALICE, BOB, CAROL, DAVE]) and m["participant_count"] == 4
    assert m["actions_by_kind"] == [{"name": "guardrail", "count": 1}, {"name": "monitor", "count": 1}]
    assert m["hypotheses_by_verdict"] == [{"name": "confirmed", "count": 1}, {"name": "open", "count": 1},
                                          {"name": "refuted", "count": 1}]


async def test_missing_or_inconsistent_milestones_are_reported_not_guessed(database_url: str) -> None:
    async with world(database_url) as w:
        doc = await document_of(w, await fraud_incident(w, resolve=False))
    doc["incident"]["impact_started_at"] = None
    doc["hypotheses"] = []
    doc["incident"]["insight_at"] = None
    spans = {s["key"]: s for s in incident_metrics(doc)["spans"]}
    assert spans["detect"]["seconds"] is None and spans["detect"]["missing"] == "no impact start recorded"
    assert spans["insight"]["missing"] == "no first confirmed hypothesis recorded"
    assert spans["impact"]["missing"] == "no impact start and no mitigation recorded"
    doc["incident"]["impact_started_at"] = "2026-03-12T14:00:00.000000Z"
    spans = {s["key"]: s for s in incident_metrics(doc)["spans"]}
    assert spans["detect"]["missing"] == "detection is recorded before impact start"


def test_durations_and_percentiles() -> None:
    assert [humanise(v) for v in (None, 42, 600, 3900, 200000)] == ["—", "42s", "10m", "1h 05m", "2d 7h"]
    assert percentile([], 50) is None
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9.1


async def test_each_draft_is_a_new_version_and_a_chain_entry(database_url: str) -> None:
    async with world(database_url) as w:
        inc = await fraud_incident(w)
        env = template_environment()
        for n in (1, 2):
            doc = await document_of(w, inc)
            markdown, findings = prepare(env, doc, w.catalog)
            async with w.session() as s:
                draft = await record_draft(s, incident=inc, doc=doc, markdown=markdown, findings=findings,
                                           actor=BOB, now=T0 + timedelta(hours=n))
            assert draft.version == n and draft.sha256 == sha256_hex(markdown)
        async with w.session() as s:
            rows = list((await s.exec(select(PostmortemDraft).where(PostmortemDraft.incident_id == inc.id)
                                      .order_by(col(PostmortemDraft.version)))).all())
            entries = [e for e in await chain.entries_of(s, inc.id or 0) if e.kind == "postmortem_drafted"]
            assert await latest_people(s, inc.id or 0) == PEOPLE
    assert [r.version for r in rows] == [1, 2]
    assert [e.data["version"] for e in entries] == [1, 2]
    assert entries[1].data["sha256"] == rows[1].sha256 and entries[1].data["head"] == entries[0].hash
    assert "Postmortem draft v1" in rows[1].markdown


def test_the_fast_time_text_is_the_canonical_one() -> None:
    from datetime import UTC, datetime, timezone

    from bot.canonical import iso
    from bot.postmortem.document import fast_iso

    paris = timezone(timedelta(hours=1))
    for at in (T0, T0.replace(microsecond=7), datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=paris),
               datetime(2030, 1, 1, tzinfo=UTC), datetime(999, 5, 1, tzinfo=UTC)):
        assert fast_iso(at) == iso(at)


BOT = Path(__file__).resolve().parents[2] / "bot"
OLD = Path(__file__).resolve().parent.parent / "data" / "bundle-with-event-times"
ITEMS = "followup/action_items.py"
# Kinds a scan cannot read from the call itself, by (module, expression): keep this in step with the code.
COMPUTED: dict[tuple[str, str], frozenset[str]] = {
    ("insights/recurrence.py", "f'recurrence_{state}'"): frozenset(f"recurrence_{s}" for s in (CONFIRMED, DISMISSED)),
    ("postmortem/learning.py", "kind"): frozenset({TRIGGER, FACTOR}),  # `mark` takes one of the two
    (ITEMS, "kind"): frozenset(),  # `_chain`: its callers' literal kinds are scanned
}


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's top-level string constants, `A = "a"` and `A, B = "a", "b"` alike."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            names, values = node.targets[0], node.value
            pairs = zip(names.elts, values.elts, strict=False) if isinstance(names, ast.Tuple) and isinstance(
                values, ast.Tuple) else [(names, values)]
            found |= {n.id: v.value for n, v in pairs if isinstance(n, ast.Name) and isinstance(v, ast.Constant)
                      and isinstance(v.value, str)}
    return found


def _kinds_of(expr: ast.expr, constants: dict[str, str]) -> set[str] | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.Name) and expr.id in constants:
        return {constants[expr.id]}
    if isinstance(expr, ast.IfExp):
        both = _kinds_of(expr.body, constants), _kinds_of(expr.orelse, constants)
        return both[0] | both[1] if both[0] is not None and both[1] is not None else None
    return None


def _kind_expr(call: ast.Call, module: str) -> ast.expr | None:
    """The kind a call chains: `chain.append(kind=…)`, `chain.NewEntry(kind, …)`, action items' `_chain(…, kind)`."""
    func, named = call.func, {k.arg: k.value for k in call.keywords}
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "chain":
        if func.attr == "append":
            return named.get("kind")
        if func.attr == "NewEntry":
            return call.args[0] if call.args else named.get("kind")
    if module == ITEMS and isinstance(func, ast.Name) and func.id == "_chain" and len(call.args) > 2:
        return call.args[2]
    return None


def test_every_kind_the_code_chains_has_a_shape() -> None:
    written, computed = set(), set()
    for path in sorted(BOT.rglob("*.py")):
        tree, module = ast.parse(path.read_text(), str(path)), path.relative_to(BOT).as_posix()
        constants = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (expr := _kind_expr(node, module)) is not None:
                kinds = _kinds_of(expr, constants)
                if kinds is None:
                    computed.add((module, ast.unparse(expr)))
                written |= kinds or set()
    assert computed == set(COMPUTED)  # a new computed kind must be listed above
    written |= {kind for kinds in COMPUTED.values() for kind in kinds}
    assert {"declared", "message", "alert", "action_check", "action_snoozed", "review_verdict"} <= written
    assert sorted(written - SHAPES.keys()) == []


LATER: dict[str, dict[str, object]] = {
    "alert": {"change": "firing", "ends_at": None, "evidence_number": 4, "fingerprint": "f1", "notice": 1,
              "payload_sha256": "ab" * 32, "starts_at": "2026-03-12T12:15:00.000000Z", "status": "firing"},
    "action_verify_set": {"number": 2, "recheck_seconds": 86400, "rollback": "flip the flag back"},
    "action_check": {"check": 3, "evidence": None, "evidence_sha256": None, "method": "manual", "number": 2,
                     "outcome": "pass", "scheduled": False, "spec": {}, "stage": "staging"},
    "action_verified": {"number": 2, "stages": ["staging", "canary", "prod"]},
    "action_regressed": {"check": 5, "number": 2, "scheduled": True, "stage": "prod"},
    "recurrence_confirmed": {"earlier": "inc-1", "earlier_id": 1, "reason": "model"},
    "recurrence_dismissed": {"earlier": "inc-1", "earlier_id": 1, "reason": "category"},
    "pattern_saved": {"actions": [1, 2], "hypothesis": 2, "number": 1},
    "pattern_used": {"hypothesis": 4, "number": 1},
    "patterns_suggested": {"numbers": [1, 3]},
}


def _bundle_with(folder: Path, kind: str, data: dict[str, object]) -> int:
    """A copy of a stored bundle whose incident.json ends with one more entry of that kind; returns its index."""
    shutil.copytree(OLD, folder)
    raw = json.loads((folder / DOCUMENT).read_text())
    raw["entries"].append({**raw["entries"][-1], "kind": kind, "data": data})
    (folder / DOCUMENT).write_text(canonical_json(raw) + "\n")
    return len(raw["entries"]) - 1


def test_a_bundle_entry_of_a_later_kind_must_carry_its_keys(tmp_path: Path) -> None:
    assert set(LATER) == set(LATER_SHAPES)
    for kind, data in LATER.items():
        last = _bundle_with(tmp_path / kind, kind, data)
        assert load_document(tmp_path / kind)["entries"][last]["data"] == data
    last = _bundle_with(tmp_path / "bare", "action_verify_set", {"number": 2})  # rollback, re-check: when given
    assert load_document(tmp_path / "bare")["entries"][last]["data"] == {"number": 2}
    short = {k: v for k, v in LATER["action_check"].items() if k != "outcome"}
    last = _bundle_with(tmp_path / "short", "action_check", short)
    with pytest.raises(BundleError, match=re.escape(f"well-formed retro-incident/2 document: entries[{last}].data: "
                                                    "missing 'outcome'")):
        load_document(tmp_path / "short")
    last = _bundle_with(tmp_path / "flat", "action_verified", {"number": 2, "stages": "prod"})
    with pytest.raises(BundleError, match=re.escape(f"entries[{last}].data.stages: not a list")):
        load_document(tmp_path / "flat")
    base = load_document(OLD)
    for kind, data in LATER.items():
        for key in sorted(set(data) - ({"recheck_seconds", "rollback"} if kind == "action_verify_set" else set())):
            entry = {**base["entries"][0], "kind": kind, "data": {k: v for k, v in data.items() if k != key}}
            with pytest.raises(DocumentError, match=re.escape(f"entries[0].data: missing '{key}'")):
                check_document({**base, "entries": [entry]})
