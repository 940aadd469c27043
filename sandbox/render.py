"""Turn messages and views (text + Block Kit) into readable plain text with numbered click targets."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
# Gives a click target its number from what identifies it (where it is, block_id, action_id, value), so that the
# same button keeps its number when its message or view is shown again.
Numbering = Callable[[tuple[str, ...]], int]
_SELECTS = {"users_select", "multi_users_select", "static_select", "multi_static_select",
            "conversations_select", "channels_select", "overflow", "radio_buttons", "checkboxes",
            "datepicker", "external_select"}


@dataclass
class Target:
    """Something clickable in a rendering (a button or a select menu)."""

    index: int
    action_id: str
    kind: str
    label: str
    block_id: str
    value: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    view_id: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class InputField:
    """An input block of a modal, addressable by block_id when submitting."""

    block_id: str
    action_id: str
    label: str
    kind: str
    optional: bool
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Rendered:
    """Rendering result: the text plus what can be clicked or filled in."""

    text: str
    targets: list[Target] = field(default_factory=list)
    fields: list[InputField] = field(default_factory=list)


def mrkdwn_to_plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """Resolve Slack's `<@U…>`, `<#C…|name>`, `<!here>` and `<url|label>` markup into readable text."""
    names = names or {}

    def sub(m: re.Match[str]) -> str:
        body = m.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            return "@" + (names.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or names.get(target[1:]) or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label else target

    return html.unescape(re.sub(r"<([^<>]+)>", sub, text))


def text_of(obj: Any, names: Mapping[str, str] | None = None) -> str:
    """Text of a text object: mrkdwn (and a bare string, as message text is) with its markup resolved; plain_text
    as it is written, because Slack resolves no mention, channel, link or date in it
    (docs.slack.dev/reference/block-kit/composition-objects/text-object: `plain_text` is shown as plain text)."""
    if isinstance(obj, dict):
        text = str(obj.get("text", ""))
        return html.unescape(text) if obj.get("type") == "plain_text" else mrkdwn_to_plain(text, names)
    return "" if obj is None else mrkdwn_to_plain(str(obj), names)


def _rich_text(el: Any) -> str:
    if isinstance(el, dict):
        if el.get("type") == "text":
            return str(el.get("text", ""))
        if el.get("type") == "user":
            return f"<@{el.get('user_id')}>"
        if el.get("type") == "link":
            return str(el.get("text") or el.get("url", ""))
        return "".join(_rich_text(e) for e in el.get("elements") or [])
    return ""


def blocks_text(blocks: Any, names: Mapping[str, str] | None = None) -> str:
    """All human-visible text of blocks, one line per block (for assertions)."""
    lines: list[str] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("section", "header", "markdown") and "text" in block:
            lines.append(text_of(block["text"], names))
        if kind == "section":
            lines.extend(text_of(f, names) for f in block.get("fields") or [])
            if isinstance(block.get("accessory"), dict) and "text" in block["accessory"]:
                lines.append(text_of(block["accessory"]["text"], names))
        elif kind == "context":
            lines.append(" ".join(text_of(e, names) for e in block.get("elements") or [] if "text" in e))
        elif kind == "actions":
            lines.append(" ".join(text_of(e.get("text"), names) for e in block.get("elements") or []
                                  if isinstance(e, dict) and "text" in e))
        elif kind == "input":
            lines.append(text_of(block.get("label"), names))
        elif kind == "rich_text":
            lines.append(mrkdwn_to_plain(_rich_text(block), names))
    return "\n".join(line for line in lines if line)


def message_text(msg: JSON, names: Mapping[str, str] | None = None) -> str:
    """A message's text plus its blocks' text."""
    parts = [mrkdwn_to_plain(str(msg.get("text") or ""), names), blocks_text(msg.get("blocks"), names)]
    return "\n".join(p for p in parts if p)


def _options(el: JSON) -> list[tuple[str, str]]:
    opts = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        opts.extend(group.get("options") or [])
    return [(text_of(o.get("text")), str(o.get("value"))) for o in opts if isinstance(o, dict)]


def _element(el: JSON, block_id: str, out: Rendered, ctx: JSON, names: Mapping[str, str]) -> str:
    kind = str(el.get("type"))
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if kind != "button" and kind not in _SELECTS:
        return f"[{kind}]"
    numbering: Numbering | None = ctx.get("numbering")
    where = str(ctx.get("view_id") or f"{ctx.get('channel')}|{ctx.get('ts')}")
    key = (where, block_id, str(el.get("action_id")), str(el.get("value")))
    index = numbering(key) if numbering is not None else len(out.targets) + ctx["start"]
    label = text_of(el.get("text") or el.get("placeholder") or {"text": kind}, names)
    target = Target(index=index, action_id=str(el.get("action_id")), kind=kind, label=label,
                    block_id=block_id, value=el.get("value"), channel=ctx.get("channel"),
                    message_ts=ctx.get("ts"), view_id=ctx.get("view_id"), options=_options(el))
    out.targets.append(target)
    if kind == "button":
        style = {"primary": "*", "danger": "!"}.get(str(el.get("style")), "")
        return f"[{index} {label}{style}]"
    choices = ", ".join(lbl for lbl, _ in target.options[:6])
    return f"[{index} {label} ▾{': ' + choices if choices else ''}]"


def _blocks(blocks: Any, out: Rendered, ctx: JSON, names: Mapping[str, str], indent: str) -> list[str]:
    lines: list[str] = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        bid = str(block.get("block_id", ""))
        if kind == "header":
            lines.append(f"{indent}== {text_of(block.get('text'), names)} ==")
        elif kind == "divider":
            lines.append(f"{indent}" + "-" * 40)
        elif kind == "section":
            if "text" in block:
                lines.extend(indent + line for line in text_of(block["text"], names).splitlines())
            fields = [text_of(f, names).replace("\n", " ") for f in block.get("fields") or []]
            for i in range(0, len(fields), 2):
                lines.append(indent + " | ".join(fields[i:i + 2]))
            if isinstance(block.get("accessory"), dict):
                lines.append(f"{indent}  {_element(block['accessory'], bid, out, ctx, names)}")
        elif kind == "context":
            parts = [text_of(e, names) if "text" in e else f"[image: {e.get('alt_text', '')}]"
                     for e in block.get("elements") or [] if isinstance(e, dict)]
            lines.append(f"{indent}  ({' · '.join(parts)})")
        elif kind == "actions":
            lines.append(indent + " ".join(_element(e, bid, out, ctx, names)
                                           for e in block.get("elements") or [] if isinstance(e, dict)))
        elif kind == "input":
            el = block.get("element") or {}
            star = "" if block.get("optional") else "*"
            kind_name = str(el.get("type"))
            field_ = InputField(block_id=bid, action_id=str(el.get("action_id")),
                                label=text_of(block.get("label"), names), kind=kind_name,
                                optional=bool(block.get("optional")), options=_options(el))
            out.fields.append(field_)
            hint = f" options: {', '.join(v for _, v in field_.options)}" if field_.options else ""
            where = f"(field {len(out.fields)}: {bid})"
            lines.append(f"{indent}{field_.label}{star}: <{kind_name}> {where}{hint}")
        elif kind == "rich_text":
            lines.append(indent + mrkdwn_to_plain(_rich_text(block), names))
        elif kind == "image":
            lines.append(f"{indent}[image: {block.get('alt_text', '')}]")
        else:
            lines.append(f"{indent}[{kind}]")
    return lines


def render_message(msg: JSON, *, names: Mapping[str, str] | None = None, start: int = 1,
                   channel: str | None = None, numbering: Numbering | None = None) -> Rendered:
    """Render a message (text, blocks, files) as a human would read it; buttons get numbers from `start` (or from
    `numbering`)."""
    names = names or {}
    out = Rendered(text="")
    ts = str(msg.get("ts", ""))
    author = names.get(str(msg.get("user")), str(msg.get("user") or msg.get("username") or "?"))
    if msg.get("bot_id"):
        author += " [APP]"
    when = time.strftime("%H:%M:%S", time.localtime(float(ts))) if ts else ""
    tags = []
    if msg.get("is_ephemeral"):
        tags.append("only visible to you")
    if msg.get("thread_ts") and msg.get("thread_ts") != ts:
        tags.append(f"in thread {msg['thread_ts']}")
    if msg.get("reply_count"):
        count = int(msg["reply_count"])
        tags.append(f"{count} {'reply' if count == 1 else 'replies'}")
    if msg.get("edited"):
        tags.append("edited")
    head = f"{author}  {when}  ts={ts}" + (f"  ({'; '.join(tags)})" if tags else "")
    lines = [head]
    ctx: JSON = {"start": start, "channel": channel or msg.get("channel"), "ts": ts, "numbering": numbering}
    # When a message has layout blocks, Slack shows them and `text` is only the notification fallback.
    layout = [b for b in msg.get("blocks") or [] if isinstance(b, dict) and b.get("type") != "rich_text"]
    if layout:
        lines.extend(_blocks(layout, out, ctx, names, "  "))
    elif msg.get("text"):
        lines.extend("  " + line for line in mrkdwn_to_plain(str(msg["text"]), names).splitlines())
    for f in msg.get("files") or []:
        lines.append(f"  [file: {f.get('title') or f.get('name')} ({f.get('size', 0)} bytes, {f.get('id')})]")
    for att in msg.get("attachments") or []:
        lines.append("  | " + mrkdwn_to_plain(str(att.get("text") or att.get("fallback") or ""), names))
    reactions = " ".join(f":{r['name']}: {r['count']}" for r in msg.get("reactions") or [])
    if reactions:
        lines.append("  " + reactions)
    out.text = "\n".join(lines)
    return out


def render_view(view: JSON, *, names: Mapping[str, str] | None = None, start: int = 1,
                numbering: Numbering | None = None) -> Rendered:
    """Render a modal or App Home view; input blocks are listed as fillable fields."""
    names = names or {}
    out = Rendered(text="")
    title = text_of(view.get("title"), names) if view.get("title") else "App Home"
    lines = [f"┌ {title}  [{view.get('type')} {view.get('id')}]"]
    ctx: JSON = {"start": start, "view_id": view.get("id"), "numbering": numbering}
    lines.extend(_blocks(view.get("blocks"), out, ctx, names, "│ "))
    buttons = []
    if view.get("submit"):
        buttons.append(f"<submit: {text_of(view['submit'], names)}>")
    if view.get("close"):
        buttons.append(f"<close: {text_of(view['close'], names)}>")
    lines.append("└ " + " ".join(buttons))
    out.text = "\n".join(lines)
    return out
