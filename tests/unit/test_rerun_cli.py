"""`retro rerun` from the command line: what it refuses before running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.reruns import numbers_of


def test_evidence_ids_are_read_in_either_case_and_bad_ones_refused() -> None:
    assert numbers_of(["E4", "e7", "12"]) == [4, 7, 12]
    assert numbers_of([]) is None
    with pytest.raises(ValueError, match="`H2` is not an evidence id"):
        numbers_of(["H2"])


def test_a_folder_that_is_no_bundle_and_a_bad_live_url_are_refused(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rerun", str(tmp_path)]) == 2
    assert "has no incident.json" in capsys.readouterr().err
    assert main(["rerun", str(tmp_path), "--prometheus", "ftp://prometheus:9090"]) == 2
    assert "prometheus_url: must be an http(s) URL" in capsys.readouterr().err
