"""Trying Retro in the sandbox's REPL, as a newcomer does after `make run`: declare, land in the incident channel,
upload real CSVs, see the data check's result when it arrives; the session is kept in files named at start, so
`retro export` / `retro verify` work afterwards and the next run resumes it; offline commands without a database
say so in one line."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import sqlite3
from pathlib import Path

import pytest

from bot.app import cli, offline
from bot.app.local import LocalStack
from bot.app.repl import SandboxFiles, carried_settings, run_sandbox
from bot.config import Settings
from bot.errors import RetroError
from tests.e2e.helpers import entries, incident_named
from tests.sandbox.typist import Typist
from tests.unit.test_datacheck import rows, to_csv


async def test_a_newcomer_declares_uploads_csvs_and_sees_the_data_check_arrive(stack: LocalStack,
                                                                               tmp_path: Path) -> None:
    train = to_csv(rows(800, seed=11))
    today = to_csv(rows(800, seed=12, amount=lambda r: round(r.lognormvariate(3.5, 0.6), 2)))
    (tmp_path / "train.csv").write_bytes(train)
    (tmp_path / "today.csv").write_bytes(today)
    typist = Typist(stack.emulator, stack.driver)
    try:
        await typist.type("/retro start Fraud scores shifted sev=2 type=data-drift")
        at = await typist.wait_for("now in #inc-")
        channel = typist.text[at:].split()[2].removeprefix("#")
        await typist.prompt()
        assert typist.text.rstrip().endswith(f"alice@{channel}>")
        shared = await typist.type(f"upload {tmp_path / 'train.csv'} training window")
        assert f"#{channel} · alice" in shared and "training window" in shared and "[file: train.csv" in shared
        await typist.type(f"upload {tmp_path / 'today.csv'}")
        await typist.type("/retro datacheck baseline=train.csv current=today.csv key=id")
        await typist.wait_for("Data check stored as *E1*")
        await typist.type("/retro action Alert on amount drift owner=@bob due=+3d kind=monitor")
        assert "┌ App Home" not in typist.text  # Retro refreshed Homes; nobody asked to see one
        home = await typist.type("home")
        # a message that arrives meanwhile may be printed first: the Home view is what follows its frame's top
        assert "┌ App Home" in home and "Fraud scores shifted" in home.split("┌ App Home", 1)[1]
    finally:
        await typist.close()
    await stack.settle()
    incident = await incident_named(stack, channel)
    chain = await entries(stack, incident.id or 0)
    hashed = {e.data["file"]["name"]: e.data.get("sha256") for e in chain if e.kind == "file_hashed"}
    assert hashed == {"train.csv": hashlib.sha256(train).hexdigest(), "today.csv": hashlib.sha256(today).hexdigest()}
    shares = [e for e in chain if e.kind == "message" and e.data.get("files")]
    assert [e.actor for e in shares] == [stack.driver.user("alice").id] * 2


async def _session(database: Path, script: str, *, fresh: bool = False) -> str:
    out = io.StringIO()
    await run_sandbox(Settings(), user="alice", database=database, fresh=fresh, stdin=io.StringIO(script),
                      stdout=out)
    return out.getvalue()


def _settings(database: Path) -> Settings:
    return Settings.model_validate({"database_url": offline.database_url_from(str(database))})


async def test_the_sandbox_keeps_its_session_for_export_verify_and_the_next_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    database = Path(offline.SANDBOX_DATABASE)
    first = await _session(database, "/retro start Label lag sev=3 type=data-quality\nlabels are 2h late\nquit\n")
    channel = re.search(r"now in #(inc-\S+) ", first).group(1)  # type: ignore[union-attr]
    files = SandboxFiles(database)
    assert database.is_file() and (files.slack / "workspace.json").is_file()
    assert f"retro export {channel} --database {database}" in first

    assert await offline.export_incident(_settings(database), channel, tmp_path / "bundle") == 0
    assert await offline.verify(_settings(database), str(tmp_path / "bundle")) == 0
    assert await offline.verify(_settings(database), channel) == 0
    before = capsys.readouterr().out
    count = int(re.search(rf"OK #{channel}: (\d+) entries", before).group(1))  # type: ignore[union-attr]

    second = await _session(database, "#inc\nback on it after lunch\nquit\n")
    assert "resumed from" in second and f"now in #{channel}" in second
    assert await offline.verify(_settings(database), channel) == 0
    after = int(re.search(rf"OK #{channel}: (\d+) entries", capsys.readouterr().out).group(1))  # type: ignore[union-attr]
    assert after == count + 1  # the same incident's chain, one message longer

    (files.slack / "workspace.json").unlink()
    with pytest.raises(RetroError, match="kept without retro-sandbox.slack"):
        await _session(database, "quit\n")
    third = await _session(database, "channels\nquit\n", fresh=True)
    assert "kept in" in third and f"#{channel}" not in third.split("channels\n", 1)[1]


async def test_fresh_deletes_only_a_sandbox_database(tmp_path: Path) -> None:
    real = tmp_path / "retro.db"
    await _session(real, "/retro start Label lag sev=3 type=data-quality\nquit\n")
    with sqlite3.connect(real) as db:  # as if it served a real workspace
        db.execute("UPDATE incident SET team_id = 'T0REALTEAM'")
    with pytest.raises(RetroError, match="is not a sandbox's database"):
        await _session(real, "quit\n", fresh=True)
    assert real.is_file() and SandboxFiles(real).slack.is_dir()
    (tmp_path / "notes.db").write_text("not a database")
    with pytest.raises(RetroError, match="is not a sandbox's database"):
        await _session(tmp_path / "notes.db", "quit\n", fresh=True)
    assert (tmp_path / "notes.db").read_text() == "not a database"


@pytest.mark.parametrize("argv", [["export", "inc-20261206-x"], ["verify", "inc-20261206-x"], ["db", "current"],
                                  ["export", "inc-20261206-x", "--database", "elsewhere.db"]])
async def test_offline_commands_without_a_database_say_so_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert await asyncio.to_thread(cli.main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "no database at" in err and "set DATABASE_URL or pass --database" in err
    assert list(tmp_path.iterdir()) == []  # looking did not create an empty database


async def test_a_database_without_retro_or_out_of_reach_is_named_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / offline.SANDBOX_DATABASE).write_bytes(b"")
    (tmp_path / "empty.db").write_bytes(b"")
    assert await asyncio.to_thread(cli.main, ["export", "inc-x", "--database", "empty.db"]) == 2
    assert "empty.db holds no Retro data" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://retro:secret@127.0.0.1:1/retro")
    assert await asyncio.to_thread(cli.main, ["verify", "inc-x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the database" in err and "secret" not in err
    monkeypatch.delenv("DATABASE_URL")
    assert await asyncio.to_thread(cli.main, ["verify", "inc-x"]) == 2
    assert "`retro sandbox` keeps its own: --database retro-sandbox.db" in capsys.readouterr().err


async def test_the_sandbox_bot_runs_with_the_team_config_and_collectors_set_for_retro(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RETRO_CONFIG (and the collectors' settings) reach the sandbox's bot; its Slack side and database do not."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "team.yml"
    config.write_text("categories:\n  - id: ranking-quality\n    name: Ranking quality\n"
                      "    description: Search results ranked worse than before.\n", encoding="utf-8")
    settings = Settings.model_validate({"retro_config": str(config), "prometheus_url": "http://127.0.0.1:9",
                                        "slack_bot_token": "xoxb-not-for-the-sandbox"})
    assert carried_settings(settings) == {"retro_config": config, "prometheus_url": "http://127.0.0.1:9"}
    out = io.StringIO()
    await run_sandbox(settings, user="alice", database=Path(offline.SANDBOX_DATABASE),
                      stdin=io.StringIO("/retro start Ranking fell sev=3 type=ranking-quality\nquit\n"), stdout=out)
    assert re.search(r"now in #inc-\S+-ranking-fell", out.getvalue()), out.getvalue()
