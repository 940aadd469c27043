"""The fullest content Retro allows, for the tests that prove it still fits Slack's caps."""

from __future__ import annotations

import re
from typing import Any

from bot.catalog import MAX_CATEGORIES, MAX_ROLES, Catalog, load_catalog
from bot.incident.incidents import MAX_MODELS_TEXT

# Characters that grow when escaped for mrkdwn (`&` → `&amp;`), so echoed text is at its longest.
GROWS = "& <> "
TITLE = ("Fraud & <risk> model drift " * 8)[:150].strip()


def filled(prefix: str, length: int) -> str:
    """`prefix` then escapable filler, exactly `length` characters."""
    return (prefix + " " + (GROWS + "lorem ") * length)[:length]


def models_text() -> str:
    """Comma-separated model references as long as a declaration takes (`m00@1,m01@1,…`)."""
    refs: list[str] = []
    n = 0
    while len(",".join([*refs, f"model-number-{n:02d}@12345"])) <= MAX_MODELS_TEXT:
        refs.append(f"model-number-{n:02d}@12345")
        n += 1
    return ",".join(refs)


def fullest_catalog() -> Catalog:
    """Nine severities, MAX_CATEGORIES categories and MAX_ROLES roles, every name and text long."""
    data: dict[str, Any] = load_catalog().model_dump()
    data["severities"] = [{"level": n, "name": f"SEV{n} " + "critical " * 9, "update_every_minutes": None,
                           "criteria": filled(f"Level{n} criteria", 3000)} for n in range(1, 10)]
    data["categories"] = [{"id": f"cat-{n:03d}", "name": f"Kind{n:03d} " + "drifting data " * 8,
                           "description": filled("about", 600)} for n in range(MAX_CATEGORIES)]
    data["roles"] = [{"id": "commander" if n == 0 else f"role-{n:02d}", "name": f"Role{n:02d} " + "keeper " * 14,
                      "duties": filled(f"Duty{n:02d}", 3000)} for n in range(MAX_ROLES)]
    return Catalog.model_validate(data)


def numbers(pattern: str, blocks: Any) -> list[int]:
    """Every number `pattern` captures in the text of `blocks`."""
    return [int(n) for n in re.findall(pattern, str(blocks))]
