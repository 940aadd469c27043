"""Modals: declare, triage, evidence, and the loading and notice views."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    Block,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.kit import clip, line_sections
from bot.catalog import Catalog
from bot.ids import CallbackId, Field
from bot.incident.evidence import KINDS
from bot.incident.incidents import MAX_MODELS_TEXT
from bot.incident.triage import FIELDS, TriageForm


class ModalMeta(BaseModel):
    """What a modal carries in private_metadata (≤ 3,000 characters)."""

    team_id: str
    channel_id: str
    incident_id: int | None = None
    response_url: str | None = None
    asked: bool | None = None  # the declare modal already asked "did you mean #inc-…?": its next submit declares

    def dump(self) -> str:
        """Serialise for private_metadata."""
        text = self.model_dump_json(exclude_none=True)
        assert len(text) <= 3000
        return text


def _text(field: Field, label: str, *, multiline: bool = False, optional: bool = False, initial: str | None = None,
          max_length: int = 3000, placeholder: str | None = None) -> InputBlock:
    return InputBlock(block_id=field, label=label, optional=optional, element=PlainTextInputElement(
        action_id=field, multiline=multiline, initial_value=initial or None, max_length=max_length,
        placeholder=placeholder))


def _view(callback: CallbackId, title: str, blocks: list[Block], meta: ModalMeta,
          submit: str = "Save") -> dict[str, Any]:
    view = View(type="modal", callback_id=callback, title=clip(title, 24), submit=submit, close="Cancel",
                blocks=blocks, private_metadata=meta.dump())
    data: dict[str, Any] = view.to_dict()
    return data


def declare_modal(catalog: Catalog, meta: ModalMeta, *, question: list[str] | None = None,
                  filled: dict[str, str] | None = None) -> dict[str, Any]:
    """Declare an incident: title, severity (with criteria), category, models, description. With a `question`
    ("did you mean #inc-…?"), the same form again, `filled` as submitted, asked above it, submitted anyway."""
    filled = filled or {}
    sev_options = [Option(value=str(s.level), label=clip(f"{s.name} — {s.criteria}", 75)) for s in catalog.severities]
    cat_options = [Option(value=c.id, label=clip(c.name, 75)) for c in catalog.categories]
    criteria = line_sections([f"*{s.name}*: {s.criteria}" for s in catalog.severities])
    severity = next((o for o in sev_options if o.value == filled.get(Field.SEVERITY)),
                    sev_options[min(2, len(sev_options) - 1)])
    blocks: list[Block] = [
        *line_sections(question or []),
        _text(Field.TITLE, "Title", max_length=150, placeholder="Fraud model precision dropped after deploy",
              initial=filled.get(Field.TITLE)),
        InputBlock(block_id=Field.SEVERITY, label="Severity", element=StaticSelectElement(
            action_id=Field.SEVERITY, options=sev_options, initial_option=severity)),
        *criteria,
        InputBlock(block_id=Field.CATEGORY, label="Category", element=StaticSelectElement(
            action_id=Field.CATEGORY, options=cat_options,
            initial_option=next((o for o in cat_options if o.value == filled.get(Field.CATEGORY)), None))),
        _text(Field.MODELS, "Affected models (name@version, comma separated)", optional=True,
              max_length=MAX_MODELS_TEXT, initial=filled.get(Field.MODELS)),
        _text(Field.DESCRIPTION, "Description", multiline=True, optional=True, initial=filled.get(Field.DESCRIPTION)),
    ]
    return _view(CallbackId.DECLARE, "Declare an incident", blocks, meta,
                 submit="Declare anyway" if question else "Declare")


def triage_modal(form: TriageForm, meta: ModalMeta) -> dict[str, Any]:
    """The standard template, pre-filled with the latest version."""
    def stamp(value: Any) -> int | None:
        return int(value.timestamp()) if value is not None else None

    blocks: list[Block] = [
        _text(Field.WHAT_HAPPENED, FIELDS["what_happened"], multiline=True, initial=form.what_happened),
        InputBlock(block_id=Field.IMPACT_START, label=FIELDS["impact_start"], optional=True,
                   element=DateTimePickerElement(action_id=Field.IMPACT_START,
                                                 initial_date_time=stamp(form.impact_start))),
        InputBlock(block_id=Field.DETECTED_AT, label=FIELDS["detected_at"], optional=True,
                   element=DateTimePickerElement(action_id=Field.DETECTED_AT,
                                                 initial_date_time=stamp(form.detected_at))),
        _text(Field.DETECTION, FIELDS["detection"], multiline=True, initial=form.detection),
        _text(Field.AFFECTED, FIELDS["affected"], multiline=True, initial=form.affected),
        _text(Field.CUSTOMER_IMPACT, FIELDS["customer_impact"], multiline=True, initial=form.customer_impact),
        _text(Field.CONTAINMENT, FIELDS["containment"], multiline=True, optional=True, initial=form.containment),
        InputBlock(block_id=Field.MITIGATED_AT, label=FIELDS["mitigated_at"], optional=True,
                   element=DateTimePickerElement(action_id=Field.MITIGATED_AT,
                                                 initial_date_time=stamp(form.mitigated_at))),
    ]
    return _view(CallbackId.TRIAGE, "Triage", blocks, meta)


def evidence_modal(meta: ModalMeta) -> dict[str, Any]:
    """Add one piece of evidence."""
    options = [Option(value=k, label=k) for k in KINDS]
    blocks: list[Block] = [
        InputBlock(block_id=Field.KIND, label="Kind", element=StaticSelectElement(action_id=Field.KIND,
                                                                                  options=options)),
        _text(Field.REF, "Reference (URL, id, query, name@version…)", max_length=2000),
        _text(Field.NOTE, "Note", multiline=True, optional=True),
    ]
    return _view(CallbackId.EVIDENCE, "Add evidence", blocks, meta)


def loading_modal(title: str) -> dict[str, Any]:
    """The modal opened at once, while its content is looked up (a trigger id dies 3 s after Slack sent it)."""
    view = View(type="modal", title=clip(title, 24), close="Cancel",
                blocks=[SectionBlock(text=MarkdownTextObject(text=":hourglass_flowing_sand: Loading…"))])
    data: dict[str, Any] = view.to_dict()
    return data


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says why it cannot offer its form."""
    view = View(type="modal", title=clip(title, 24), close="Close",
                blocks=[SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))])
    data: dict[str, Any] = view.to_dict()
    return data
