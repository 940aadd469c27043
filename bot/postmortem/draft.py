"""Drafting the postmortem: one Jinja2 environment (team templates first), pure rendering, versioned drafts."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import sha256_hex
from bot.catalog import Catalog
from bot.errors import RetroError
from bot.postmortem.blameless import Finding, scan
from bot.postmortem.doc_types import Doc
from bot.postmortem.measures import humanise
from bot.postmortem.sections import context, slack_to_markdown
from bot.record import chain
from storage.models import Incident, PostmortemDraft

TEMPLATE = "postmortem.md.j2"
_CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class TemplateError(RetroError):
    """A postmortem template could not be loaded or rendered; the message names the template and line."""


@pass_context
def _md(ctx: Context, text: Any) -> str:
    return "" if text is None else slack_to_markdown(str(text), ctx.get("people") or {})


@pass_context
def _cell(ctx: Context, text: Any) -> str:
    out = _md(ctx, text).replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(part for part in out.replace("\r", "").split("\n"))


@pass_context
def _block(ctx: Context, text: Any, indent: int = 2) -> str:
    return _md(ctx, text).replace("\r", "").replace("\n", "\n" + " " * indent)


@pass_context
def _who(ctx: Context, uid: str | None) -> str:
    if not uid:
        return "—"
    return "@" + ((ctx.get("people") or {}).get(uid) or uid)


@pass_context
def _when(ctx: Context, value: str | None, style: str = "full") -> str:
    """`full`: local date and time with UTC beside it; `local` / `utc`: one clock only (seconds)."""
    if not value:
        return "—"
    tz = ZoneInfo(ctx.get("timezone") or "UTC")
    if (style == "utc" or (style == "local" and tz.key == "UTC")) and _CANONICAL_TIME.match(value):
        return f"{value[:10]} {value[11:19]}"  # the canonical text already is the UTC clock (long timelines)
    at = datetime.fromisoformat(value).astimezone(UTC)
    local = at.astimezone(tz)
    if style == "local":
        return local.strftime("%Y-%m-%d %H:%M:%S")
    if style == "utc":
        return at.strftime("%Y-%m-%d %H:%M:%S")
    if tz.key == "UTC":
        return at.strftime("%Y-%m-%d %H:%M UTC")
    utc_part = at.strftime("%H:%M UTC" if at.date() == local.date() else "%Y-%m-%d %H:%M UTC")
    return f"{local.strftime('%Y-%m-%d %H:%M %Z')} ({utc_part})"


def template_environment(team_dir: Path | None = None) -> jinja2.Environment:
    """The one environment: the team's folder (RETRO_TEMPLATES_DIR) first, Retro's packaged templates second."""
    loaders: list[jinja2.BaseLoader] = []
    if team_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(team_dir)))
    loaders.append(jinja2.PackageLoader("templates", ""))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             auto_reload=False)
    env.filters.update(md=_md, cell=_cell, block=_block, who=_who, when=_when, duration=humanise)
    return env


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Path(frame.filename).name, frame.lineno
    return None, None


def render(env: jinja2.Environment, doc: Doc, template: str = TEMPLATE) -> str:
    """The Markdown postmortem of an incident document; a pure function of the document and the templates."""
    try:
        return env.get_template(template).render(context(doc))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"Template {exc.name or template}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"Template {exc.name} was not found in the team's or Retro's templates.") from exc
    except Exception as exc:  # an undefined name or a failing filter inside a (team) template
        name, line = _template_line(exc)
        where = f"Template {name}, line {line}" if name else f"Template {template}"
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc


def check_templates(env: jinja2.Environment, template: str = TEMPLATE) -> None:
    """Compile the postmortem template and everything it includes, so a broken team template is found at start."""
    seen: set[str] = set()
    todo = [template]
    try:
        while todo:
            name = todo.pop()
            if name in seen or env.loader is None:
                continue
            seen.add(name)
            env.get_template(name)
            source = env.loader.get_source(env, name)[0]
            todo += [n for n in jinja2.meta.find_referenced_templates(env.parse(source)) if n is not None]
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"Template {exc.name or template}, line {exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"Template {exc.name} was not found in the team's or Retro's templates.") from exc


@dataclass(frozen=True)
class Draft:
    """A rendered, recorded postmortem draft."""

    version: int
    markdown: str
    sha256: str
    findings: list[Finding]
    doc: Doc


def prepare(env: jinja2.Environment, doc: Doc, catalog: Catalog) -> tuple[str, list[Finding]]:
    """Render and run the blameless check; raises before anything is stored or posted."""
    markdown = render(env, doc)
    findings = scan(markdown, catalog.blameless.rules) if catalog.blameless.enabled else []
    return markdown, findings


async def record_draft(session: AsyncSession, *, incident: Incident, doc: Doc, markdown: str,
                       findings: list[Finding], actor: str, now: datetime) -> Draft:
    """Store the next draft version and chain it (digest, size, findings); commits."""
    assert incident.id is not None
    version = await chain.bump_counter(session, incident.id, "draft_seq")
    digest = sha256_hex(markdown)
    session.add(PostmortemDraft(team_id=incident.team_id,
                                incident_id=incident.id, version=version, markdown=markdown, sha256=digest,
                                drafted_by=actor, drafted_at=now, people=doc["people"]))
    await chain.append(session, incident_id=incident.id, kind="postmortem_drafted", at=now, actor=actor,
                       key_event=False,
                       data={"version": version, "sha256": digest, "bytes": len(markdown.encode("utf-8")),
                             "entries": doc["incident"]["entry_count"], "head": doc["incident"]["head_hash"],
                             "blameless_findings": len(findings)})
    await session.commit()
    return Draft(version, markdown, digest, findings, doc)


async def latest_people(session: AsyncSession, incident_id: int) -> dict[str, str]:
    """The display names the latest draft used (exports made without Slack reuse them)."""
    rows = await session.exec(select(PostmortemDraft.people).where(PostmortemDraft.incident_id == incident_id)
                              .order_by(col(PostmortemDraft.version).desc()).limit(1))
    people = rows.first()
    return dict(people or {})
