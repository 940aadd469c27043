"""The bot learns its workspace at start (auth.test): replicas starting together on one empty database all do it,
and none may fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.app.wiring import build_deps
from bot.config import Settings
from bot.slack.identity import learn_identity
from storage.models import Workspace


class Auth:
    """auth.test as Slack answers it."""

    def __init__(self, name: str = "Sandbox") -> None:
        self.name = name

    async def auth_test(self) -> dict[str, Any]:
        return {"ok": True, "user_id": "UBOT", "team_id": "T0LEARN", "team": self.name,
                "url": "https://sandbox.example/"}


async def test_replicas_learning_one_workspace_together_all_start(database_url: str) -> None:
    replicas = [build_deps(Settings(database_url=database_url)) for _ in range(4)]
    try:
        await asyncio.gather(*(learn_identity(d, Auth()) for d in replicas))  # type: ignore[arg-type]
        first = replicas[0]
        async with first.session() as session:
            row = await session.get(Workspace, "T0LEARN")
            assert row is not None and (row.name, row.url) == ("Sandbox", "https://sandbox.example/")
            row.installed_at = datetime(2026, 1, 1, tzinfo=UTC)
            session.add(row)
            await session.commit()
        await learn_identity(first, Auth(name="Renamed"))  # type: ignore[arg-type]
        async with first.session() as session:
            row = await session.get(Workspace, "T0LEARN")
            assert row is not None and row.name == "Renamed"  # what Slack says now
            assert row.installed_at == datetime(2026, 1, 1, tzinfo=UTC)  # when it was first seen stays
        assert all(d.bot_user_id == "UBOT" for d in replicas)
    finally:
        for d in replicas:
            await d.engine.dispose()
