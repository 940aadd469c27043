"""Incidents and what responders do in them: declaration, lifecycle, roles, triage, evidence, hypotheses."""
