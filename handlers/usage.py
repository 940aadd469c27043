"""The usage line of every `/retro` subcommand (`/retro help` lists them; every usage error carries one)."""

from __future__ import annotations

from bot.followup.action_items import ACTION_USAGE
from bot.timeparse import DUE_FORMS, OCCURRED_FORMS

USAGE: dict[str, str] = {
    "help": "/retro help",
    "start": "/retro start <title> [sev=1..4] [type=<category>] [model=<name>@<version>] [private=yes]  (asks first "
             "from an incident's channel or with an open incident's title)",
    "list": "/retro list [page=N]",
    "role": '/retro role <role> @user  (the role by its id or its name, like "data owner")',
    "roles": "/retro roles",
    "triage": "/retro triage [impact=<when>] [detected=<when>] [mitigated=<when>]",
    "status": '/retro status <investigating|mitigated|resolved|closed> [reason] [reason="…"] [at=<when>]  (closing '
              'with open action items asks first)',
    "sev": '/retro sev <level> [reason] [reason="…"] [at=<when>]',
    "note": "/retro note <text> [at=<when>]",
    "timeline": "/retro timeline [all] [page=N]",
    "evidence": "/retro evidence [<kind> <ref> [note…] [model=…] [snapshot=…] [from=… to=…] [step=…] "
                "[flag=name:value] [at=<when>]]  (flag=, model= or snapshot= can stand in for <ref>; file takes the "
                "name, id or link of a file shared here; metric takes PromQL, in backticks when it has spaces)",
    "hypothesis": "/retro hypothesis <statement> [at=<when>]  (or from=P<n>: the cause and test of a pattern card)",
    "hypotheses": "/retro hypotheses",
    "test": '/retro test H<n> <plan> expect="<expected outcome>" [criteria="<success criteria>"]',
    "confirm": "/retro confirm H<n> [E<n> …] [note] [at=<when>]",
    "refute": "/retro refute H<n> [E<n> …] [note] [at=<when>]",
    "inconclusive": "/retro inconclusive H<n> [E<n> …] [note] [at=<when>]",
    "action": ACTION_USAGE,
    "check": '/retro check A<n> [stage=<s> metric=`<PromQL>` expect="<op> <n>" [window=1h] [at=<when>] | datacheck '
             'baseline=… current=… | result=pass|fail evidence=E<k> [note]] [rollback="…"] [recheck=7d]',
    "actions": "/retro actions",
    "done": "/retro done A<n> [note]",
    "reassign": "/retro reassign A<n> @user",
    "due": "/retro due A<n> <date>",
    "drop": "/retro drop A<n> <reason>",
    "my": "/retro my",
    "postmortem": "/retro postmortem",
    "lesson": "/retro lesson <well|wrong|lucky> <what>",
    "trigger": "/retro trigger <what set it off>|H<n> [at=<when>]",
    "factor": "/retro factor <contributing condition>|H<n>",
    "review": "/retro review [request @user … [owner=@user] | approve [note] | changes <what to change>]",
    "stats": "/retro stats [period=90d] [category=<id>]",
    "search": "/retro search <words> [model=<name>] [category=<id>]",
    "similar": "/retro similar",
    "pattern": '/retro pattern save H<n> [A<m> …] name="<name>"  (a confirmed cause and its mitigations, as a card)',
    "patterns": "/retro patterns [category=<id>] [model=<name>] [words…] [page=N]",
    "audit": "/retro audit [period=90d]  (of the incidents closed in it; kept)", "audits": "/retro audits [page=N]",
    "datacheck": "/retro datacheck baseline=<E#|file|runs:/…|models:/…> current=<E#|file|runs:/…|models:/…> "
                 "[key=<column>[,…]] [psi=0.2] [ks=0.15] [nulls=0.05]",
    "rerun": "/retro rerun E<n> [E<n> …]  (a data check, Prometheus range or MLflow lookup run again; the outcome is "
             "kept as evidence)",
}
GENERAL_USAGE = "/retro <" + "|".join(USAGE) + "> …  (try `/retro help`)"
# What `<when>` in the usage lines stands for (`/retro help` says it under the list).
WHEN_HELP = f"<when>: when it happened, if not just now: {OCCURRED_FORMS}."
DATE_HELP = f"<date>: {DUE_FORMS} (a weekday is the next one)."
