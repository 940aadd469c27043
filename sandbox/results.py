"""What a user sees after running a slash command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .api_common import ts_key
from .render import message_text
from .state import JSON
from .workspace import Workspace

if TYPE_CHECKING:
    from .emulator import SlackEmulator


@dataclass
class CommandResult:
    """A slash command invocation: the app's ack and every reply addressed to the invoking user."""

    status: int | None
    ack_body: Any
    ack_seconds: float
    trigger_id: str
    response_url: str
    channel_id: str
    user_id: str
    timed_out: bool = False
    ack_error: str | None = None
    hook_id: str = ""
    since_ts: str = "0"
    emulator: SlackEmulator | None = field(default=None, repr=False)
    ws: Workspace | None = field(default=None, repr=False)

    @property
    def workspace(self) -> Workspace | None:
        """The workspace the command ran in."""
        return self.ws or (self.emulator.workspace if self.emulator else None)

    @property
    def ok(self) -> bool:
        """True when the app acknowledged with HTTP 200 in time."""
        return self.status == 200 and not self.timed_out

    def collected(self) -> list[JSON]:
        """Replies so far: ack body, response_url posts and chat.postEphemeral to this user here."""
        ws = self.workspace
        if ws is None:
            return []
        out: list[JSON] = []
        hook = ws.hooks.get(self.hook_id)
        if hook is not None:
            out.extend(dict(r) for r in hook.replies)
        for eph in ws.ephemerals:
            if eph.source != "chat.postEphemeral" or eph.channel != self.channel_id:
                continue
            if eph.user == self.user_id and ts_key(eph.ts) > ts_key(self.since_ts):
                record: JSON = {"via": "chat.postEphemeral", "response_type": "ephemeral", "text": eph.text,
                                "ts": eph.ts, "action": "ephemeral"}
                if eph.blocks is not None:
                    record["blocks"] = eph.blocks
                out.append(record)
        out.sort(key=lambda r: ts_key(str(r.get("ts") or "0")))
        return out

    async def replies(self, timeout: float = 5.0) -> list[JSON]:
        """Wait for the sandbox to go quiet, then return all replies."""
        if self.emulator is not None:
            await self.emulator.drain(timeout)
        return self.collected()

    def text(self) -> str:
        """All reply texts (including block text) joined by newlines, for assertions."""
        ws = self.workspace
        names = {u.id: u.name for u in ws.users.values()} if ws else {}
        return "\n".join(message_text(r, names) for r in self.collected())
