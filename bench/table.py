"""Turning each benchmark's figures into rows of one table: what, on which database, value, target, verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    section: str
    db: str
    what: str
    value: str
    target: str = ""
    verdict: str = ""


def _verdict(ok: bool, bad: str = "MISSED") -> str:
    return "ok" if ok else bad


def _pair(a: Any, b: Any, unit: str = "") -> str:
    return f"{a} / {b}{unit}"


def _ingest(db: str, r: dict[str, Any]) -> list[Row]:
    cpu, target, best = r["cpu_ms_per_event"], r["target_ratio"], r["ratio"]
    rounds = f"{r['rounds']} alternating rounds of {r['events_per_round']:,}"
    return [
        Row("ingestion", db, f"events/s Retro / bare Bolt, best round of each ({rounds})",
            _pair(f"{r['retro']['rate']:,.0f}", f"{r['bare']['rate']:,.0f}")),
        Row("ingestion", db, "  ratio Retro ÷ bare Bolt (best rounds)", f"{best:.2f}", f"≥ {target}",
            _verdict(best >= target, "BELOW")),
        Row("ingestion", db, "  ratio, median of paired rounds", f"{r['median_round_ratio']:.2f}", f"≥ {target}",
            _verdict(r["median_round_ratio"] >= target, "BELOW")),
        Row("ingestion", db, "  ack p50 / p99 ms, Retro (its best round)", _pair(r["retro"]["p50_ms"],
                                                                                 r["retro"]["p99_ms"])),
        Row("ingestion", db, "  ack p50 / p99 ms, bare Bolt (its best round)", _pair(r["bare"]["p50_ms"],
                                                                                    r["bare"]["p99_ms"])),
        Row("ingestion", db, "  server CPU ms per event, Retro / bare Bolt (median)",
            _pair(f"{cpu['retro']:.3f}", f"{cpu['bare']:.3f}")),
        Row("ingestion", db, "  acked events committed, once each; chain verifies",
            f"{r['recorded']:,}/{r['sent']:,}; chain {'ok' if r['chain_ok'] else 'BROKEN'}", "all",
            _verdict(r["all_committed"], "FAILED")),
    ]


def _commands(db: str, r: dict[str, Any]) -> list[Row]:
    return [
        Row("commands", db, f"/retro note, {r['users']} concurrent users: ack p50 / p99 ms",
            _pair(r["p50_ms"], r["p99_ms"]), f"p99 ≤ {r['target_p99_ms']:.0f}", _verdict(r["meets_target"])),
        Row("commands", db, "  reply p50 / p99 ms (note chained, answer delivered)",
            _pair(r["reply_p50_ms"], r["reply_p99_ms"])),
        Row("commands", db, "  server CPU ms per command", str(r.get("cpu_ms_per_command", "—"))),
        Row("commands", db, "  notes recorded; chain verifies", f"{r['recorded']}/{r['commands']}", "all",
            _verdict(r["all_recorded"], "FAILED")),
    ]


def _memory(db: str, r: dict[str, Any]) -> list[Row]:
    size = f"{r['incidents']:,} incidents × {r['entries_per_incident']} entries"
    return [
        Row("memory", db, "retro serve RSS idle (MiB)", f"{r['idle_rss_mib']}"),
        Row("memory", db, f"  RSS after serving {size} (MiB)", f"{r['after_rss_mib']}"),
        Row("memory", db, "  peak RSS (VmHWM, MiB)", f"{r['peak_rss_mib']}"),
        Row("memory", db, "  threads idle / after (SQLite: one per pooled connection)",
            _pair(r.get("threads_idle", "?"), r.get("threads_after", "?"))),
        Row("memory", db, f"  commands served while reading ({r['serve_seconds']} s)",
            f"{r['commands']:,}, unanswered {r['unanswered']}", "all", _verdict(r["unanswered"] == 0, "FAILED")),
    ]


def _slack_calls(r: dict[str, Any]) -> list[Row]:
    return [Row("slack calls", "sqlite", f"Web API calls per /retro start ({r['declarations']} declarations)",
                ", ".join(map(str, r["calls"])), f"≤ {r['budget']}", _verdict(r["within_budget"]))]


def _render(r: dict[str, Any]) -> list[Row]:
    n, target = r["entries"], r["target_seconds"]
    return [
        Row("render", "sqlite", f"postmortem render, {n:,} entries (s)", f"{r['render_seconds']:.3f}",
            f"≤ {target:.0f} s", _verdict(r["render_seconds"] <= target)),
        Row("render", "sqlite", f"export + verify bundle, {n:,} entries (s)", f"{r['export_verify_seconds']:.3f}",
            f"≤ {target:.0f} s", _verdict(r["export_verify_seconds"] <= target)),
    ]


def _reminders(r: dict[str, Any]) -> list[Row]:
    what = f"{r['reminders']:,} reminders, {r['processes']} scheduler processes: all sent (s)"
    return [
        Row("reminders", "postgresql", what, f"{r['seconds']} ({r['per_second']}/s)"),
        Row("reminders", "postgresql", "  duplicates delivered", str(r["duplicates"]), "0",
            _verdict(r["duplicates"] == 0, "FAILED")),
    ]


def _datacheck_pair(label: str, r: dict[str, Any]) -> list[Row]:
    size = f"{label}: {r['rows']:,} × {r['columns']}, {r['bytes'] / 2**20:,.0f} MiB"
    x, ref = r["retro"], r["reference"]
    if "error" in x:
        return [Row("datacheck", label, f"Retro ({size}): no report", x["error"][:120], "", "FAILED"),
                Row("datacheck", label, "  reference s / peak MiB", _pair(ref["seconds"], ref["peak_mib"]))]
    target = f"≤ {r['target_ratio']}"
    return [
        Row("datacheck", label, f"s, Retro / reference ({size})", _pair(x["seconds"], ref["seconds"])),
        Row("datacheck", label, "  ratio of times Retro ÷ reference", f"{r['time_ratio']:.2f}", target,
            _verdict(r["time_ratio"] <= r["target_ratio"])),
        Row("datacheck", label, "  peak RSS MiB, Retro's worker / reference", _pair(x["worker_peak_mib"],
                                                                                     ref["peak_mib"])),
        Row("datacheck", label, "  ratio of peaks Retro ÷ reference", f"{r['memory_ratio']:.2f}", target,
            _verdict(r["memory_ratio"] <= r["target_ratio"])),
        Row("datacheck", label, "  bot side: peak RSS MiB before / during the check",
            _pair(x["bot_before_mib"], x["bot_peak_mib"])),
        Row("datacheck", label, "  same features flagged", ", ".join(x["flagged"]) or "none", "same",
            _verdict(r["same_flags"], "DIFFERENT")),
    ]


def _datacheck(r: dict[str, Any]) -> list[Row]:
    rows = [row for fmt in ("csv", "parquet") if fmt in r for row in _datacheck_pair(fmt, r[fmt])]
    a = r.get("acks")
    if a:
        for mode, m in a["modes"].items():
            how = "a note a second each" if mode == "paced" else "each the next as soon as acknowledged"
            target = (f"p99 ≤ {a['target_p99_ms']:.0f}", _verdict(m["p99_ms"] <= a["target_p99_ms"])) \
                if mode == "paced" else ("", "")
            rows += [
                Row("datacheck", a["db"], f"/retro note, {a['users']} users ({how}) during a check of (b): ack p50 / "
                    "p99 ms (p99: median round, worst round)",
                    f"{m['p50_ms']} / {m['round_p99_median_ms']}, {m['p99_ms']}", *target),
                Row("datacheck", a["db"], "  the same round with no check running: ack p50 / p99 ms",
                    _pair(m["no_check_p50_ms"], m["no_check_p99_ms"])),
                Row("datacheck", a["db"], "  notes sent while the check ran; not acknowledged with 200",
                    f"{m['commands']:,} in {m['rounds']} rounds; {m['failed']}", "0", _verdict(m["failed"] == 0,
                                                                                            "FAILED")),
            ]
        rows += [
            Row("datacheck", a["db"], f"  the check: {a['check_status']}", f"{a['check_seconds']} s", "check ok",
                _verdict(a["check_status"] == "ok", "FAILED")),
            Row("datacheck", a["db"], "  retro serve RSS before / peak during the check (MiB)",
                _pair(a["bot_rss_before_mib"], a["bot_peak_mib"])),
        ]
    return rows


PER_DB: dict[str, Callable[[str, dict[str, Any]], list[Row]]] = {
    "ingest": _ingest, "commands": _commands, "memory": _memory}
SINGLE: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "slack_calls": _slack_calls, "render": _render, "reminders": _reminders,
    "datacheck": _datacheck}


def notes_for(section: str, result: dict[str, Any]) -> list[str]:
    """Details that do not fit a row."""
    if "error" in result or "skipped" in result:
        return []
    if section == "ingest":
        return [f"ingestion ({db}): Retro ÷ bare Bolt per round (cores taken by other work during the bare / Retro "
                "round): " + ", ".join(f"{ratio:.2f} ({b.get('other_cores', '?')}/{x.get('other_cores', '?')})"
                                       for ratio, x, b in zip(r["round_ratios"], r["rounds_detail"]["retro"],
                                                              r["rounds_detail"]["bare"], strict=True))
                for db, r in result.items()]
    if section == "slack_calls":
        return ["Web API calls of one /retro start: "
                + ", ".join(f"{m} {n}" for m, n in sorted(result["by_method"].items()))]
    return []


def rows_for(section: str, result: dict[str, Any]) -> list[Row]:
    """The rows of one section's result (an error or a skip is one row)."""
    if "error" in result:
        return [Row(section, "", "ERROR: " + str(result["error"])[:200], "", "", "ERROR")]
    if "skipped" in result:
        return [Row(section, "", "skipped: " + str(result["skipped"]), "")]
    if section in PER_DB:
        return [row for db, r in result.items() for row in PER_DB[section](db, r)]
    return SINGLE[section](result)


def print_table(info: dict[str, Any], rows: list[Row], notes: list[str]) -> None:
    """The machine, then the aligned table."""
    pg = info.get("postgresql") or "not measured"
    print(f"\nRetro benchmarks — {info['date']} — `{info['command']}`")
    print(f"machine: {info['cpus']} × {info['cpu_model']}, {info['ram_gib']} GiB RAM; Python {info['python']}, "
          f"SQLite {info['sqlite']}, PostgreSQL {pg}")
    other = info["other_work"]
    print(f"load average (1/5/15 min) before: {info['load_average']}, after: {info['load_average_after']}; "
          f"CPU used meanwhile by everything but this run's processes (PostgreSQL's included) over "
          f"{other['seconds']:.0f} s: {other['other_cpu_seconds']} CPU-s, ≈ {other['other_cores']} of {info['cpus']} "
          "cores\n")
    print_rows(rows)
    if notes:
        print()
    for note in notes:
        print(note)


def print_rows(rows: list[Row]) -> None:
    """The aligned table."""
    header = Row("benchmark", "database", "measure", "value", "target", "verdict")
    widths = [max(len(getattr(r, f)) for r in [header, *rows]) for f in ("section", "db", "what", "value", "target")]
    for r in [header, *rows]:
        cells = [r.section, r.db, r.what, r.value, r.target]
        print(("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + r.verdict).rstrip())


def markdown(rows: list[Row]) -> str:
    """The table as Markdown (for bench/README.md)."""
    lines = ["| benchmark | database | measure | value | target | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    last = ("", "")
    for r in rows:
        shown = ("", "") if (r.section, r.db) == last else (r.section, r.db)
        last = (r.section, r.db)
        value = f"**{r.value}**" if r.what.strip().startswith("ratio") else r.value
        verdict = f"**{r.verdict}**" if r.verdict not in ("", "ok") else r.verdict
        lines.append(f"| {shown[0]} | {shown[1]} | {r.what.strip()} | {value} | {r.target} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m bench.table results.json: a saved run's table as Markdown
    import json
    import sys
    from pathlib import Path

    saved = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))["results"]
    print(markdown([row for name, result in saved.items() for row in rows_for(name, result)]))
