"""Bundles exported by earlier versions (documents of format retro-incident/1 and /2) still verify, and re-render
their postmortem and timeline picture byte for byte: they render with the draft of their time (templates/v2) and
the first timeline layout, while new documents get the current ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.postmortem.document import FORMAT, LEGACY_FORMATS
from bot.postmortem.draft import LEGACY_TEMPLATE, TEMPLATE, render, template_environment, template_for
from bot.postmortem.export import PICTURE, POSTMORTEM, load_document, render_bundle, verify_bundle
from bot.postmortem.timeline_picture import timeline_svg

DATA = Path(__file__).parent.parent / "data"
OLD = {"retro-incident/1": DATA / "bundle-before-event-times", "retro-incident/2": DATA / "bundle-with-event-times"}


@pytest.mark.parametrize("fmt", sorted(OLD))
def test_an_old_bundle_verifies_and_re_renders_byte_for_byte(fmt: str, tmp_path: Path) -> None:
    folder = tmp_path / "old"
    shutil.copytree(OLD[fmt], folder)
    report = verify_bundle(folder)
    assert report.ok, report.checks
    doc = load_document(folder)
    assert doc["format"] == fmt and fmt in LEGACY_FORMATS and template_for(doc) == LEGACY_TEMPLATE
    assert render_bundle(template_environment(), folder).encode() == (folder / POSTMORTEM).read_bytes()
    assert timeline_svg(doc).encode() == (folder / PICTURE).read_bytes()


def test_the_same_record_as_a_current_document_renders_with_the_current_draft() -> None:
    doc = load_document(OLD["retro-incident/2"])
    current = {**doc, "format": FORMAT}
    assert template_for(current) == TEMPLATE
    old, new = render(template_environment(), doc), render(template_environment(), current)
    assert old == (OLD["retro-incident/2"] / POSTMORTEM).read_text()
    assert new != old and "## Lessons learned" in new and "## Lessons learned" not in old
