"""Drafting the postmortem: one Jinja2 environment (team templates first), pure rendering, versioned drafts."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
import jinja2.nodes
from jinja2 import pass_context
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import BlockReference, Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import sha256_hex
from bot.catalog import Catalog
from bot.errors import RetroError
from bot.postmortem import escaping
from bot.postmortem.blameless import Finding, scan
from bot.postmortem.doc_types import Doc
from bot.postmortem.escaping import Markdown
from bot.postmortem.measures import humanise
from bot.postmortem.sections import context
from bot.record import chain
from storage.models import Incident, PostmortemDraft

TEMPLATE = "postmortem.md.j2"
_CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class TemplateError(RetroError):
    """A postmortem template could not be loaded or rendered; the message names the template and line."""


def _people(ctx: Context) -> dict[str, str]:
    people = ctx.get("people")
    return people if isinstance(people, dict) else {}


@pass_context
def _md(ctx: Context, text: Any) -> Markdown:
    """A value as inline Markdown: Slack markup readable, user text escaped; what already is Markdown stays."""
    if isinstance(text, Markdown):
        return text
    return Markdown("") if text is None else escaping.inline(str(text), _people(ctx))


@pass_context
def _cell(ctx: Context, text: Any) -> Markdown:
    """`md` for a table cell: the same escaping (it is cell-safe); Markdown a macro wrote gets `<br>` for newlines."""
    if isinstance(text, Markdown):
        return Markdown(text.replace("\r", "").replace("\n", escaping.BREAK))
    return _md(ctx, text)


@pass_context
def _block(ctx: Context, text: Any, indent: int = 2) -> Markdown:
    if isinstance(text, Markdown):
        return Markdown(text.replace("\n", "\n" + " " * indent))
    return Markdown("") if text is None else escaping.block(str(text), _people(ctx), indent)


def _code(text: Any) -> Markdown:
    return escaping.code("" if text is None else str(text))


@pass_context
def _who(ctx: Context, uid: str | None) -> Markdown:
    if not uid:
        return Markdown("—")
    return Markdown("@" + escaping.plain(_people(ctx).get(uid) or uid))


@pass_context
def _join(ctx: Context, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> Markdown:
    """Jinja2's `join`, with every item escaped unless it already is Markdown (and the separator escaped too)."""
    if attribute is not None:
        value = map(make_attrgetter(ctx.environment, attribute), value)
    sep = escaping.plain(str(d))
    return Markdown(sep.join(_md(ctx, item) for item in value))


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


@pass_context
def _finalize(ctx: Context, value: Any) -> Markdown:
    """Every `{{ … }}` of every template ends here: escaped as `md` does, unless it already is Markdown."""
    return _md(ctx, value)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's sandbox (no Python internals, no mutation); a macro's output is Markdown the template wrote."""

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Call from a template; what a macro or a block reference renders is kept as written, not escaped again."""
        out = super().call(context, obj, *args, **kwargs)
        return Markdown(out) if isinstance(obj, Macro | BlockReference) and isinstance(out, str) else out


def template_environment(team_dir: Path | None = None) -> jinja2.Environment:
    """The one environment: the team's folder (RETRO_TEMPLATES_DIR) first, Retro's packaged templates second.

    Sandboxed, and escaping by default: `finalize` runs on every expression a template outputs, so user text is
    Markdown-escaped even where a template names no filter. `safe` is removed: nothing a template prints skips it.
    """
    loaders: list[jinja2.BaseLoader] = []
    if team_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(team_dir)))
    loaders.append(jinja2.PackageLoader("templates", ""))
    env = _Sandbox(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined, autoescape=False,
                   finalize=_finalize, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                   auto_reload=False)
    del env.filters["safe"]
    env.filters.update(md=_md, cell=_cell, block=_block, code=_code, who=_who, when=_when, duration=humanise,
                       join=_join, e=_md, escape=_md, forceescape=_md)
    return env


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Path(frame.filename).name, frame.lineno
    return None, None


def _compile_error(exc: jinja2.TemplateError, template: str) -> TemplateError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"Template {exc.name or template}, line {exc.lineno}: {exc.message}")
    assert isinstance(exc, jinja2.TemplateNotFound)
    return TemplateError(f"Template {exc.name} was not found in the team's or Retro's templates.")


def render(env: jinja2.Environment, doc: Doc, template: str = TEMPLATE) -> str:
    """The Markdown postmortem of an incident document; a pure function of the document and the templates."""
    try:
        return env.get_template(template).render(context(doc))
    except (jinja2.TemplateSyntaxError, jinja2.TemplateNotFound) as exc:
        raise _compile_error(exc, template) from exc
    except Exception as exc:  # an undefined name, a failing filter or a sandbox refusal inside a (team) template
        name, line = _template_line(exc)
        where = f"Template {name}, line {line}" if name else f"Template {template}"
        if isinstance(exc, SecurityError):
            raise TemplateError(f"{where}: refused by the template sandbox: {exc}") from exc
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _named_attribute(node: jinja2.nodes.Node) -> Any:
    """The attribute a node names as a constant: `x.name`, `x['name']`, `x|attr('name')` (else None)."""
    if isinstance(node, jinja2.nodes.Getattr):
        return node.attr
    if isinstance(node, jinja2.nodes.Getitem):
        return node.arg.value if isinstance(node.arg, jinja2.nodes.Const) else None
    if isinstance(node, jinja2.nodes.Filter) and node.name == "attr" and node.args:
        return node.args[0].value if isinstance(node.args[0], jinja2.nodes.Const) else None
    return None


def _internals(name: str, tree: jinja2.nodes.Template) -> None:
    """Refuse, before any render, a template that names a `_` attribute (`''.__class__`, `x['__init__']`,
    `x|attr('__globals__')`): the sandbox would only refuse it at render time."""
    for node in tree.find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem, jinja2.nodes.Filter)):
        attr = _named_attribute(node)
        if isinstance(attr, str) and attr.startswith("_"):
            raise TemplateError(f"Template {name}, line {node.lineno}: `{attr}` is refused by the template sandbox "
                                "(templates may not reach Python internals).")


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
            tree = env.parse(env.loader.get_source(env, name)[0])
            _internals(name, tree)
            todo += [n for n in jinja2.meta.find_referenced_templates(tree) if n is not None]
    except (jinja2.TemplateSyntaxError, jinja2.TemplateNotFound) as exc:
        raise _compile_error(exc, template) from exc


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
