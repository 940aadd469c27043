"""A gate that holds data checks in their worker process until a test lets them go.

Workers import this module by name, so it stays light: the comparison and the standard library only.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.collectors import comparison


def gate_dir(pid: int) -> Path:
    """Where held workers and the test holding them meet (named after the test's process, the workers' parent)."""
    return Path(tempfile.gettempdir()) / f"retro-datacheck-gate-{pid}"


def held_report(*args: Any) -> dict[str, Any]:
    """In place of `comparison.report`: write `started`, wait for `open` (a minute at most), then compare."""
    gate = gate_dir(os.getppid())
    (gate / "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (gate / "open").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.01)
    return comparison.report(*args)
