"""Every action_id, callback_id and block_id Retro uses: one enum member registers and builds each."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """Interactive elements."""

    ASSIGN_ROLES = "retro_assign_roles"
    ROLE_SELECT = "retro_role_select"
    OPEN_TRIAGE = "retro_open_triage"
    ADD_EVIDENCE = "retro_add_evidence"
    ADD_ACTION = "retro_add_action"
    POSTMORTEM = "retro_postmortem"
    ACTION_DONE = "retro_action_done"
    ACTION_SNOOZE_DAY = "retro_action_snooze_day"
    ACTION_SNOOZE_WEEK = "retro_action_snooze_week"
    OPEN_INCIDENT = "retro_open_incident"
    OPEN_IN_RETRO = "retro_open_in_retro"  # a link to the web view: Slack opens it, the app only acknowledges
    TIMELINE_PAGE = "retro_timeline_page"
    EVIDENCE_PAGE = "retro_evidence_page"
    CONFIRM_COMMAND = "retro_confirm_command"
    CANCEL_COMMAND = "retro_cancel_command"
    RECURRENCE_CONFIRM = "retro_recurrence_confirm"
    RECURRENCE_DISMISS = "retro_recurrence_dismiss"


class CallbackId(StrEnum):
    """Modals."""

    DECLARE = "retro_declare"
    TRIAGE = "retro_triage"
    EVIDENCE = "retro_evidence"
    ACTION = "retro_action"


class Field(StrEnum):
    """Input blocks of the modals (block_id; the element's action_id is the same string)."""

    TITLE = "title"
    SEVERITY = "severity"
    CATEGORY = "category"
    MODELS = "models"
    DESCRIPTION = "description"
    PRIVATE = "private"
    WHAT_HAPPENED = "what_happened"
    IMPACT_START = "impact_start"
    DETECTED_AT = "detected_at"
    DETECTION = "detection"
    AFFECTED = "affected"
    CUSTOMER_IMPACT = "customer_impact"
    CONTAINMENT = "containment"
    MITIGATED_AT = "mitigated_at"
    KIND = "kind"
    REF = "ref"
    NOTE = "note"
    OWNER = "owner"
    DUE = "due"
    ACTION_KIND = "action_kind"
    HYPOTHESIS = "hypothesis"
