"""Suggestions for what someone most likely meant: "did you mean `status`?" for a mistyped word."""

from __future__ import annotations

from collections.abc import Iterable


def distance(a: str, b: str) -> int:
    """Edits from `a` to `b`: insertions, deletions, substitutions and swaps of two neighbouring letters (the
    optimal string alignment distance), so `stauts` is one edit from `status`."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def closest(word: str, choices: Iterable[str]) -> list[str]:
    """The choices `word` most likely misspells (case-insensitive), best first, at most two; empty when none is
    close: within one edit per three letters (one for short words), the same length preferred on a tie."""
    typed = word.strip().lower()
    if not typed:
        return []
    allowed = max(1, len(typed) // 3)
    scored = sorted((distance(typed, c.lower()), abs(len(c) - len(typed)), c) for c in dict.fromkeys(choices))
    near = [s for s in scored if s[0] <= allowed and s[2].lower() != typed]
    return [c for d, gap, c in near if (d, gap) == near[0][:2]][:2] if near else []


def did_you_mean(word: str, choices: Iterable[str], *, template: str = "`{}`") -> str:
    """` Did you mean `x`?` (or `x` or `y` on a tie) for close choices shown through `template`, else ''."""
    found = closest(word, choices)
    return f" Did you mean {' or '.join(template.format(c) for c in found)}?" if found else ""
