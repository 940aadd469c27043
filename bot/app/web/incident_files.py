"""The incident's files for download: its export bundle as a ZIP, its notebook, its timeline picture and the charts
its collectors kept, and the postmortem as HTML. Every one is made from the record on request."""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlmodel import select

from bot.app.web.incident_parts import chart_names
from bot.collectors import artifacts
from bot.deps import Deps
from bot.errors import RetroError
from bot.incident import evidence
from bot.incident.names import names as kept_names
from bot.insights.pattern_use import incident_document
from bot.insights.rerun_outcome import member
from bot.postmortem import bundle_sources, document, export
from bot.postmortem.doc_types import Doc
from bot.postmortem.draft import checked, latest_people, render
from bot.postmortem.notebook import notebook_bytes
from bot.signing import load_private_key
from storage.models import Evidence, Incident

CHUNK = 256 * 1024


async def export_document(deps: Deps, incident: Incident) -> tuple[Doc, list[Evidence]]:
    """The incident document as `retro export` builds it (names of the people it names included; the blameless
    check is added by `finished`), and the evidence rows its attachments come from."""
    async with deps.session() as s:
        people = await latest_people(s, incident.id or 0)
        doc = await incident_document(s, incident, catalog=deps.catalog, people=people)
        doc = document.with_people(doc, await kept_names(s, incident.team_id, document.user_ids(doc)))
        rows = await evidence.listing(s, incident.id or 0)
    return doc, list(rows)


def finished(deps: Deps, doc: Doc) -> Doc:
    """The document with the blameless check's findings, as exported."""
    return checked(deps.templates, doc, deps.catalog)


def _bundle_zip(deps: Deps, doc: Doc, rows: list[Evidence], out: Path) -> Path:
    """Write the bundle (signed when Retro has a signing key) into a folder beside `out`, and zip it to `out`."""
    doc = finished(deps, doc)
    folder = out.parent / "bundle"
    signing = deps.settings.retro_signing_key
    key = load_private_key(signing.get_secret_value()) if signing is not None else None
    export.write_bundle(deps.templates, doc, folder, key,
                        attached=bundle_sources.attachments(deps.settings, doc, rows))
    top = f"{doc['incident']['channel_name']}-bundle"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return out


@asynccontextmanager
async def bundle_file(deps: Deps, incident: Incident) -> AsyncIterator[tuple[str, Path]]:
    """The bundle's ZIP, made in a private temporary folder that is removed once the caller has sent it: its file
    name for the download, and where it is."""
    doc, rows = await export_document(deps, incident)
    with tempfile.TemporaryDirectory(prefix="retro-web-") as tmp:
        out = await asyncio.to_thread(_bundle_zip, deps, doc, rows, Path(tmp) / "bundle.zip")
        yield f"{incident.channel_name}-bundle.zip", out


async def send_file(resp: web.StreamResponse, path: Path) -> None:
    """Stream a file's bytes into a prepared answer, read a chunk at a time off the event loop."""
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            await resp.write(chunk)


async def notebook(deps: Deps, incident: Incident) -> bytes:
    """The incident's notebook, as the bundle carries it."""
    doc, _ = await export_document(deps, incident)
    return await asyncio.to_thread(lambda: notebook_bytes(finished(deps, doc)))


async def chart(deps: Deps, incident: Incident, number: int, index: int) -> bytes | None:
    """The index-th PNG a collector kept for evidence E<number>, read back and checked against its digest."""
    async with deps.session() as s:
        row = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id,
                                                   Evidence.number == number))).first()
    if row is None or row.status != "ok" or number > incident.evidence_seq:
        return None
    found = chart_names(row.custody)
    if not 0 <= index < len(found):
        return None
    try:
        data = await asyncio.to_thread(artifacts.load, deps.settings, row)
    except (RetroError, OSError):
        return None
    png = member(data, found[index])
    return png if png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") else None


class _Postmortem(MarkdownIt):
    """CommonMark with raw HTML off, whose links lead to web pages, mail or a place on the page only (every other
    scheme stays text)."""

    def validateLink(self, url: str) -> bool:
        """Only http(s), mailto and in-page links."""
        return url.strip().lower().startswith(("http://", "https://", "mailto:", "#"))


_MARKDOWN = _Postmortem("commonmark", {"html": False})


def html_of(markdown: str) -> Markup:
    """Postmortem Markdown as HTML: raw HTML in it is shown as text, links a browser could run are not links."""
    return Markup(_MARKDOWN.render(markdown))


async def postmortem_html(deps: Deps, incident: Incident) -> Markup:
    """The postmortem as it would be drafted now, as HTML."""
    doc, _ = await export_document(deps, incident)

    def draw() -> Markup:
        return html_of(render(deps.templates, finished(deps, doc)))

    return await asyncio.to_thread(draw)
