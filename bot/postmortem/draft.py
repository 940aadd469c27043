"""Drafting the postmortem: one Jinja2 environment (team templates first), pure rendering, versioned drafts."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import sha256_hex
from bot.catalog import BlamelessRule, Catalog
from bot.errors import RetroError
from bot.postmortem import filters
from bot.postmortem.blameless import Finding, annotate, scan
from bot.postmortem.doc_types import Doc, FindingRecord
from bot.postmortem.document import LEGACY_FORMATS
from bot.postmortem.escaping import Markdown
from bot.postmortem.sections import context
from bot.record import chain
from storage.models import Incident, PostmortemDraft

TEMPLATE = "postmortem.md.j2"
# Documents of the first formats render with the draft of their time, kept under templates/v2/.
LEGACY_TEMPLATE = "v2/postmortem.md.j2"


class TemplateError(RetroError):
    """A postmortem template could not be loaded or rendered; the message names the template and line."""


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
                   finalize=filters.finalize, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                   auto_reload=False)
    del env.filters["safe"]
    env.filters.update(filters.FILTERS)
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


def template_for(doc: Doc) -> str:
    """The template a document renders with: the current draft, or the draft of its time for the first formats."""
    return LEGACY_TEMPLATE if doc["format"] in LEGACY_FORMATS else TEMPLATE


def _render(env: jinja2.Environment, doc: Doc, template: str) -> str:
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


def render(env: jinja2.Environment, doc: Doc, template: str | None = None) -> str:
    """The Markdown postmortem of an incident document, with the blameless findings the document carries noted next
    to what they flag; a pure function of the document and the templates."""
    markdown = _render(env, doc, template or template_for(doc))
    return annotate(markdown, findings_of(doc))


def findings_of(doc: Doc) -> list[Finding]:
    """The blameless findings recorded in the document when it was drafted (none in the first formats)."""
    return [Finding(f["rule"], 0, f["sentence"], "", f["why"], f["suggestion"], f["reframed"])
            for f in doc.get("blameless", [])]


def check(env: jinja2.Environment, doc: Doc, rules: Sequence[BlamelessRule]) -> Doc:
    """The document with the findings of the blameless check over its draft (rendered without notes), so that the
    draft and every re-render of its bundle carry them without running any pattern again."""
    markdown = _render(env, {**doc, "blameless": []}, template_for(doc))
    found: list[FindingRecord] = [{"reframed": f.reframed, "rule": f.rule, "sentence": f.sentence,
                                   "suggestion": f.suggestion, "why": f.why} for f in scan(markdown, rules)]
    return {**doc, "blameless": found}


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
    """Compile the postmortem templates and everything they include, so a broken team template is found at start."""
    seen: set[str] = set()
    todo = [LEGACY_TEMPLATE, template]
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


def checked(env: jinja2.Environment, doc: Doc, catalog: Catalog) -> Doc:
    """`check` with the team's rules (none when the check is off); the first formats are not checked here."""
    if doc["format"] in LEGACY_FORMATS:
        return doc
    return check(env, doc, catalog.blameless.rules if catalog.blameless.enabled else [])


def prepare(env: jinja2.Environment, doc: Doc, catalog: Catalog) -> tuple[str, list[Finding]]:
    """Run the blameless check and render, its findings noted in the draft; raises before anything is stored or
    posted."""
    if doc["format"] in LEGACY_FORMATS:  # drafted as their time did: findings in the summary only
        markdown = render(env, doc)
        return markdown, scan(markdown, catalog.blameless.rules) if catalog.blameless.enabled else []
    doc = checked(env, doc, catalog)
    return render(env, doc), findings_of(doc)


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
