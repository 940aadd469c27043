"""Rendering the postmortem: sections, times, team templates (sandboxed, escaping by default), template errors and
user text that looks like Jinja."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from bot.catalog import Catalog, load_catalog
from bot.postmortem.doc_types import Doc
from bot.postmortem.document import with_people
from bot.postmortem.draft import TEMPLATE, TemplateError, check_templates, render, template_environment
from bot.postmortem.sections import context, slack_to_markdown
from tests.postmortem_world import PEOPLE, document_of, fraud_incident, world

SECTIONS = ["## Summary", "## Impact", "## Roles", "## Timeline", "## Triage template (as last submitted)",
            "## Evidence", "## Hypotheses tested", "## Root cause and contributing factors", "## Action items",
            "## Metrics", "## Reproduce", "## Integrity", "## Appendix: full timeline"]
# The current draft (format retro-incident/3 on), in the order of the templates teams circulate.
CURRENT_SECTIONS = ["## Summary", "## Impact", "## Timeline", "## Root cause, trigger and contributing factors",
                    "## Hypotheses tested", "## Action items", "## Lessons learned", "## Related incidents",
                    "## Roles", "## Triage template (as last submitted)", "## Evidence", "## Metrics", "## Reproduce",
                    "## Review", "## Integrity", "## Appendix: full timeline"]
LEGACY = "retro-incident/2"


async def _doc(database_url: str, *, catalog: Catalog | None = None, **incident: Any) -> Doc:
    async with world(database_url, catalog) as w:
        inc = await fraud_incident(w, **incident)
        return await document_of(w, inc)


async def test_every_section_is_drawn_from_the_record(database_url: str) -> None:
    """A document of an earlier format renders with the draft of its time."""
    md = render(template_environment(), {**await _doc(database_url), "format": LEGACY})
    positions = [md.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert md.startswith("# Postmortem: Fraud model precision dropped\n")
    impact = md[md.index("## Impact"):md.index("## Roles")]
    assert "| Impact started | 2026-03-12 12:15 UTC |" in impact and "| Impact duration | 1h 55m |" in impact
    assert "Good payments declined for \\~3% of users" in impact  # `~` escaped: it opens strikethrough
    assert "| Incident commander | @alice |" in md and "| Scribe | @bob |" in md and "| Operations | _unfilled_ |" in md
    assert "| E2 | dataset | s3://features/merchant_risk/2026-03-10<br>last partition is 2 days old |" in md
    hyps = md[md.index("## Hypotheses tested"):md.index("## Root cause")]
    assert hyps.index("### H2") < hyps.index("### H1") < hyps.index("### H3")  # confirmed, ruled out, open
    assert "Ruled out: H1." in hyps and "- **Expected:** 4.1 scores higher precision" in hyps
    root = md[md.index("### Root cause"):md.index("## Action items")]
    assert "The merchant_risk feature pipeline is stale" in root and "with evidence E1, E2" in root
    assert "| A1 | Alert on feature freshness &gt; 6h (H2) | @dave | 2026-03-19 | monitor | open |" not in md
    assert "| A1 | Alert on feature freshness > 6h (H2) | @dave | 2026-03-19 | monitor | open |" in md
    assert "| Time to detect | 45m | impact start → detection |" in md
    assert "- **Model versions:** fraud-scorer@4.2" in md and "- **Data snapshots:** merchant_risk@2026-03-10" in md
    assert "- **Commits:** 9f2c1ab" in md and "(E1)" in md


async def test_missing_milestones_are_prompts_never_guesses(database_url: str) -> None:
    md = render(template_environment(), await _doc(database_url, resolve=False))
    assert "| Time to mitigate | missing | detection → mitigation (no mitigation recorded) |" in md
    assert "| Impact duration | _missing (no mitigation recorded)_ |" in md
    assert "| Mitigated | — |" in md


async def test_times_are_in_the_team_timezone_with_utc(database_url: str) -> None:
    catalog = load_catalog().model_copy(update={"timezone": "Europe/Paris"})
    md = render(template_environment(), {**await _doc(database_url, catalog=catalog), "format": LEGACY})
    assert "| Declared | 2026-03-12 14:00 CET (13:00 UTC) by @alice |" in md
    assert "| # | Europe/Paris | UTC | Who | What |" in md
    assert "| 1 | 2026-03-12 14:00:00 | 2026-03-12 13:00:00 | @alice |" in md


async def test_the_current_draft_reads_times_as_people_say_them(database_url: str) -> None:
    catalog = load_catalog().model_copy(update={"timezone": "Europe/Paris"})
    md = render(template_environment(), await _doc(database_url, catalog=catalog))
    positions = [md.index(s) for s in CURRENT_SECTIONS]
    assert positions == sorted(positions)
    assert "| Declared | Thu 12 Mar 2026, 14:00 CET by @alice |" in md and "Times are in Europe/Paris." in md
    assert "**Thursday 12 March 2026**" in md and "| # | When | Who | What |" in md
    assert "| 1 | 12 Mar 14:00 | @alice |" in md and "2026-03-12 13:00" not in md


async def test_user_text_that_looks_like_jinja_renders_literally(database_url: str) -> None:
    doc = await _doc(database_url, title="Drift in {{ config.secret }} {% raise %} {# x #}")
    md = render(template_environment(), doc)
    assert "# Postmortem: Drift in {{ config.secret }} {% raise %} {# x #}\n" in md


def test_slack_markup_becomes_readable_markdown_without_raw_html() -> None:
    people = {"U1": "alice"}
    text = "<@U1> and <@U2|bob> in <#C1|inc-x> see <https://x.io/a|the graph> <!here> <script>&lt;b&gt;"
    assert slack_to_markdown(text, people) == ("@alice and @bob in #inc-x see [the graph](https://x.io/a) @here "
                                               "&lt;script>&lt;b&gt;")


async def test_table_cells_keep_their_shape(database_url: str) -> None:
    doc = await _doc(database_url)
    doc["evidence"][0]["note"] = "a | b\nsecond line"
    md = render(template_environment(), doc)
    assert "a \\| b<br>second line" in md


async def test_display_names_fall_back_to_user_ids(database_url: str) -> None:
    doc = await _doc(database_url)
    md = render(template_environment(), {**doc, "people": {}})
    assert "| Incident commander | @U0ALICE |" in md
    assert "| Incident commander | @Alice A. |" in render(template_environment(),
                                                          with_people(doc, {**PEOPLE, "U0ALICE": "Alice A."}))


async def test_a_team_template_replaces_the_packaged_one(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# {{ incident.title }} ({{ labels.severity }})\n"
                                               "{% include '_pm_evidence.md.j2' %}")
    md = render(template_environment(tmp_path), await _doc(database_url))
    assert md.startswith("# Fraud model precision dropped (SEV2)\n## Evidence\n")


@pytest.mark.parametrize(("source", "line", "problem"), [
    ("# ok\n\n{% for x in entries %}\n{{ x.seq }\n", 4, "unexpected '}'"),
    ("# ok\n{{ incident.nope }}\n", 2, "'dict object' has no attribute 'nope'"),
    ("# ok\n\n\n{{ undefined_name | upper }}\n", 4, "'undefined_name' is undefined"),
])
async def test_a_broken_template_names_itself_and_its_line(database_url: str, tmp_path: Path, source: str,
                                                          line: int, problem: str) -> None:
    (tmp_path / "postmortem.md.j2").write_text(source)
    env = template_environment(tmp_path)
    with pytest.raises(TemplateError) as err:
        render(env, await _doc(database_url))
    assert f"Template postmortem.md.j2, line {line}" in err.value.user_message
    assert problem in err.value.user_message


def test_templates_are_checked_with_their_includes(tmp_path: Path) -> None:
    check_templates(template_environment())
    (tmp_path / "_pm_analysis.md.j2").write_text("{% if %}\n")
    with pytest.raises(TemplateError, match="Template _pm_analysis.md.j2, line 1"):
        check_templates(template_environment(tmp_path))


async def test_a_team_template_escapes_user_text_without_asking(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text(
        "# {{ incident.title }}\n\n"
        "{% macro row(a) %}| A{{ a.number }} | {{ a.title }} | {{ a.owner | who }} |{% endmacro %}"
        "| Id | Action | Owner |\n|---|---|---|\n"
        "{% for a in actions %}{{ row(a) }}\n{% endfor %}\n"
        "Models: {{ incident.models | join(', ') }}. {{ 'First: H' ~ hypotheses[0].number ~ ' ' ~ "
        "hypotheses[0].statement }}\n")
    doc = await _doc(database_url, title="# [x](javascript:alert(1)) <img src=x onerror=alert(1)>")
    doc["incident"]["models"] = ["fraud|scorer@4"]  # as a forged incident.json could hold it
    doc["actions"][0]["title"] = "a | b\n# c"
    for h in doc["hypotheses"]:
        h["statement"] = "**loud** [x](data:text/html,hi)"
    md = render(template_environment(tmp_path), doc)
    assert md.startswith("# \\# \\[x\\](javascript:alert(1)) \\<img src=x onerror=alert(1)>\n")
    assert "| A1 | a \\| b<br>\\# c | @dave |\n| A2 | Block scoring when a feature is stale | @carol |\n" in md
    assert "Models: fraud\\|scorer@4. First: H2 \\*\\*loud\\*\\* \\[x\\](data:text/html,hi)\n" in md


def test_the_safe_filter_is_gone_so_nothing_skips_escaping(tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# Postmortem\n\n{{ incident.title | safe }}\n")
    with pytest.raises(TemplateError, match="Template postmortem.md.j2, line 3: No filter named 'safe'"):
        check_templates(template_environment(tmp_path))


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__[1].__subclasses__()", "incident['__class__']", "incident | attr('__init__')",
    "cycler.__init__.__globals__", "self.__dict__",
])
def test_a_team_template_reaching_python_internals_is_refused_at_start(tmp_path: Path, expression: str) -> None:
    (tmp_path / "_pm_evidence.md.j2").write_text("## Evidence\n\n{{ " + expression + " }}\n")
    with pytest.raises(TemplateError) as err:
        check_templates(template_environment(tmp_path))
    assert err.value.user_message.startswith("Template _pm_evidence.md.j2, line 3: `__")
    assert "is refused by the template sandbox" in err.value.user_message


@pytest.mark.parametrize("source", [
    "{% set name = '__cla' ~ 'ss__' %}{{ incident | attr(name) }}",
    "{{ '{0.__class__.__mro__}'.format(incident) }}",
    "{{ entries.append(entries[0]) }}",
    "{% set _ = doc.people.update({'U0ALICE': 'mallory'}) %}",
    "{{ doc.people.pop('U0ALICE') }}",
])
async def test_a_team_template_is_sandboxed_when_it_renders(database_url: str, tmp_path: Path, source: str) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# Postmortem\n\n" + source + "\n")
    env = template_environment(tmp_path)
    check_templates(env)  # nothing to see before it runs: the sandbox refuses it then
    doc = await _doc(database_url)
    before = copy.deepcopy(doc)
    with pytest.raises(TemplateError) as err:
        render(env, doc)
    assert err.value.user_message.startswith("Template postmortem.md.j2, line 3: refused by the template sandbox")
    assert doc == before


async def test_retros_templates_render_the_same_in_the_sandbox(database_url: str) -> None:
    env = template_environment()
    assert isinstance(env, SandboxedEnvironment)
    plain = jinja2.Environment(loader=env.loader, undefined=jinja2.StrictUndefined, finalize=env.finalize,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    plain.filters = dict(env.filters)
    doc = await _doc(database_url)
    assert render(env, doc) == plain.get_template(TEMPLATE).render(context(doc))


async def test_rendering_is_a_pure_function_of_the_document(database_url: str) -> None:
    doc = await _doc(database_url)
    env = template_environment()
    first = render(env, doc)
    assert render(template_environment(), doc) == first
    assert render(env, doc) == first


async def test_the_summary_message_stays_within_slack_limits(database_url: str) -> None:
    import json

    from bot.blocks.postmortem import draft_summary, gaps
    from bot.postmortem.blameless import Finding

    doc = await _doc(database_url, title="x" * 150)
    doc["hypotheses"][1]["statement"] = "y" * 3000
    long = "<!here> " + "z" * 2000
    findings = [Finding("hindsight", n, long, "should have", long, long, long) for n in range(20)]
    blocks = draft_summary(doc, version=12, sha256="a" * 64, findings=findings)
    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 11_000
    text = json.dumps(blocks)
    assert "Postmortem draft v12" in text and "and 14 more in the draft" in text
    assert "<!here>" not in text  # user text never pings
    assert [g.split(" (")[0].split("?")[0] for g in gaps(doc)] == [
        "Say what set it off, apart from the root cause", "What went well", "What went wrong", "Where we got lucky",
        "Ask for a review when the draft is ready"]
    doc["format"] = LEGACY  # drafted as the earlier formats were: none of those prompts
    assert gaps(doc) == []
    doc["triage"], doc["actions"] = None, []
    assert [g.split(" (")[0] for g in gaps(doc)] == ["Fill the triage template", "Add action items"]
