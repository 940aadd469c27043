"""Slack Web API calls per `/retro start`, counted by the sandbox's Slack (the spec allows at most 8).

Each declaration runs against the sandbox until everything it set off has finished; the calls Slack received in
that window are counted by method. `auth.test` (once per process, at start) is not part of a declaration, and
replies through the command's response_url are not Web API calls.

    python -m bench.slack_calls
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bot.app.local import local_stack
from bot.incident import incidents

BUDGET = 8
EXCLUDED = {"auth.test"}


async def measure(declarations: int = 3) -> dict[str, Any]:
    """Declare incidents one after another and count the calls each one made."""
    per_start: list[dict[str, int]] = []
    errors = 0
    async with local_stack() as stack:
        await stack.settle()
        for k in range(declarations):
            mark = len(stack.emulator.calls)
            result = await stack.driver.command("alice", "#general", f"start Checkout ranking drop {k} sev=2 "
                                                "type=data-drift")
            await result.replies()
            await stack.settle()
            async with stack.deps.session() as session:
                if len(await incidents.open_incidents(session, stack.emulator.workspace.team_id)) != k + 1:
                    raise RuntimeError(f"the declaration did not go through: {result.text()}")
            calls = [c for c in stack.emulator.calls[mark:] if c.method not in EXCLUDED and not c.ratelimited]
            per_start.append(dict(Counter(c.method for c in calls)))
            errors += sum(1 for c in calls if not c.ok)
    totals = [sum(m.values()) for m in per_start]
    return {"declarations": declarations, "calls": totals, "max_calls": max(totals), "budget": BUDGET,
            "within_budget": max(totals) <= BUDGET, "by_method": per_start[0], "refused_calls": errors}


def run(declarations: int = 3) -> dict[str, Any]:
    """Count on the in-process sandbox (SQLite)."""
    return asyncio.run(measure(declarations))


if __name__ == "__main__":
    r = run()
    print(f"Web API calls per /retro start: {r['calls']} (budget {BUDGET}); by method: {r['by_method']}")
