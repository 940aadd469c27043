"""The scripted ML incident of `retro demo`: a fraud model's precision drops because a feature pipeline went stale.

Each step waits a few scripted minutes, then one person acts. `{bob}` stands for a mention of bob; `@name` in
channel messages is typed as in the Slack client. What was noticed before anyone typed it is recorded with `at=`
(the scribe's notes of the alert and the first complaints, the mitigation called after watching it hold), so the
postmortem's timeline shows the real sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

START = datetime(2026, 3, 12, 13, 52, tzinfo=UTC)
IMPACT_START = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
TITLE = "Fraud scorer precision drop"
DECLARE = f"start {TITLE} sev=2 type=data-quality model=fraud-scorer@4.2"

Kind = Literal["cmd", "say", "reply", "pin", "triage", "postmortem"]


@dataclass(frozen=True)
class Step:
    """One thing one person does, `minutes` after the previous step."""

    minutes: float
    user: str
    kind: Kind
    text: str = ""
    tag: str | None = None


TRIAGE = {
    "what_happened": "Precision of fraud-scorer@4.2 (online card-payment scoring) fell from 0.91 to 0.62 while "
                     "recall held, so many good payments were declined.",
    "detection": "Precision monitor alert: precision@0.5 below 0.80 for 15 minutes.",
    "affected": "fraud-scorer@4.2 online scoring; merchant_risk features from the feature store.",
    "customer_impact": "About 3% of card payments were wrongly declined; support saw a spike of complaints.",
    "containment": "Manual review queue staffed up; high-value merchants allow-listed.",
}

S = Step
SCRIPT: tuple[Step, ...] = (
    S(0, "alice", "say", "Precision alert on fraud-scorer just fired, declaring an incident. Looking now."),
    S(1, "alice", "cmd", "role scribe {bob}"),
    S(0.5, "alice", "cmd", "role ml-owner {carol}"),
    S(0.5, "alice", "cmd", "role data-owner {dave}"),
    S(0.5, "alice", "cmd", "role comms {erin}"),
    S(1, "bob", "say", "I'll keep the record. Filling the triage template now."),
    S(1, "carol", "say", "Precision@0.5 went from 0.91 to 0.62 over the last hour. Recall is flat at 0.88."),
    S(1, "erin", "say", "Support reports a spike in declined-payment complaints since about 13:10.",
      tag="support"),
    S(0.5, "erin", "reply", "Roughly 3% of card payments, mostly small merchants.", tag="support"),
    S(0.5, "alice", "reply", "Thanks, keep the numbers coming.", tag="support"),
    S(0.5, "bob", "cmd", "note First declined-payment complaints reached support at=13:10"),
    S(0.5, "bob", "cmd", "note Precision monitor alert fired: precision@0.5 below 0.80 for 15 minutes at=13:49"),
    S(1, "bob", "triage"),
    S(1, "carol", "cmd", "evidence metric https://grafana.example.com/d/fraud/precision precision@0.5 fell from "
                         "0.91 to 0.62 model=fraud-scorer@4.2 from=2026-03-12T12:30 to=2026-03-12T14:10"),
    S(1, "alice", "say", "Anything deployed recently?"),
    S(1, "carol", "say", "fraud-scorer 4.2 rolled out yesterday at 09:00. Could be the new model."),
    S(0.5, "carol", "cmd", "evidence deploy deploy://fraud-scorer/4.2 canary then full rollout on Mar 11 "
                           "model=fraud-scorer@4.2 sha=9f2c1ab"),
    S(1, "carol", "cmd", "hypothesis The 4.2 model deploy regressed precision"),
    S(0.5, "carol", "cmd", 'test H1 Shadow-score the last hour of traffic with 4.1 and 4.2 '
                           'expect="4.1 reaches clearly higher precision than 4.2"'),
    S(1, "bob", "say", "Merchant mix looks different this week, end-of-quarter sales started."),
    S(0.5, "bob", "cmd", "hypothesis Seasonal drift in the merchant mix moved the score distribution"),
    S(0.5, "bob", "cmd", 'test H2 Compare merchant-category PSI of today against the training window '
                         'expect="PSI above 0.2"'),
    S(1, "dave", "say", "Checking the feature store. merchant_risk looks suspicious, dashboards show flat lines."),
    S(0.5, "alice", "say", "Erin, please tell support we are investigating; next update in 30 minutes."),
    S(0.5, "erin", "say", "Will do."),
    S(1, "dave", "cmd", "hypothesis The merchant_risk feature pipeline stopped and online features are stale"),
    S(0.5, "dave", "cmd", 'test H3 Check the newest merchant_risk partition and the DAG state '
                          'expect="newest partition older than 24h"'),
    S(2, "carol", "say", "Shadow scoring done: 4.1 and 4.2 both sit at 0.62 on the same traffic."),
    S(0.5, "carol", "cmd", "evidence query bq://fraud/scoring_eval shadow scoring of 13:00-14:00 traffic with "
                           "4.1 and 4.2 model=fraud-scorer@4.1"),
    S(0.5, "carol", "cmd", "refute H1 E3 Both versions give 0.62 on identical traffic, so the deploy is not it."),
    S(1, "bob", "say", "PSI of the merchant mix is 0.04, well inside normal."),
    S(0.5, "bob", "cmd", "evidence notebook https://notebooks.example.com/fraud/psi-merchant-mix PSI 0.04 "
                         "against the training window"),
    S(0.5, "bob", "cmd", "refute H2 E4 PSI 0.04 is far below the 0.2 threshold."),
    S(1, "dave", "say", "Found it: newest merchant_risk partition is dt=2026-03-10. The daily DAG is paused.",
      tag="found"),
    S(0.5, "alice", "pin", tag="found"),
    S(0.5, "dave", "cmd", "evidence dataset s3://feature-store/merchant_risk/dt=2026-03-10 newest partition is "
                          "two days old snapshot=merchant_risk@2026-03-10"),
    S(0.5, "dave", "cmd", "evidence log airflow://dags/merchant_risk_daily paused since 2026-03-10 after a "
                          "failed backfill from=2026-03-10T02:00 to=2026-03-12T14:20"),
    S(0.5, "dave", "reply", "The backfill failed on a schema change upstream; the retry policy paused the DAG "
                            "and the alert for paused DAGs only goes to a muted channel.", tag="found"),
    S(0, "dave", "cmd", "trigger A schema change upstream made the merchant_risk backfill fail on Mar 10; the retry "
                        "policy then paused the DAG"),
    S(0, "dave", "cmd", "factor The alert for paused DAGs only goes to a muted channel"),
    S(0.5, "dave", "cmd", "confirm H3 E5 E6 merchant_risk served 2-day-old values: risk scores of new "
                          "merchants stayed at their defaults."),
    S(1, "carol", "say", "That explains it: new merchants get the default risk, which the model reads as risky."),
    S(0.5, "bob", "cmd", "note Human error: someone paused the DAG during the backfill and forgot to resume it"),
    S(1, "alice", "say", "Plan: fix the schema mapping, resume the DAG, backfill two partitions. Dave, go."),
    S(0.5, "dave", "say", "On it."),
    S(0.5, "carol", "cmd", "evidence feature-flag fraud.use_merchant_risk:true kept on; turning it off costs "
                           "more recall than it saves"),
    S(1, "erin", "say", "Posted a status update for support: cause found, fix in progress."),
    S(3, "dave", "say", "Schema mapping fixed, DAG resumed, backfill for 2026-03-11 running."),
    S(3, "dave", "say", "Backfill done for both days; online store refreshed."),
    S(1, "carol", "say", "Precision recovering: 0.84 and climbing."),
    S(0.5, "alice", "say", "Let's watch it for a while before calling it mitigated."),
    S(1, "alice", "cmd", "status mitigated merchant_risk backfilled and serving fresh values at=14:30"),
    S(1, "erin", "say", "Support confirms declines are back to the usual rate."),
    S(0.5, "dave", "say", "I will open follow-ups for the alerting gap."),
    S(1, "alice", "cmd", "action Alert when a feature partition is older than 6 hours owner={dave} due=+3d "
                         "kind=monitor hypothesis=H3"),
    S(0.5, "alice", "cmd", "action Refuse to score with features older than 24h and fall back to rules "
                           "owner={carol} due=+1w kind=guardrail hypothesis=H3"),
    S(0.5, "alice", "cmd", "action Add a freshness check to the fraud model's data tests owner={carol} due=+2w "
                           "kind=test"),
    S(0.5, "alice", "cmd", "action Route paused-DAG alerts to the on-call channel owner={dave} due=+1w "
                           "kind=process"),
    S(4, "bob", "say", "Timeline looks complete to me. Anything else for the record?"),
    S(24, "carol", "say", "Precision back at 0.90, holding for 30 minutes."),
    S(0.5, "carol", "cmd", "note Precision back to 0.90 and stable after the merchant_risk backfill at=14:34"),
    S(0.5, "alice", "say", "Great work everyone. Resolving."),
    S(0.5, "alice", "cmd", "status resolved Precision stable at 0.90 for 30 minutes"),
    S(0, "alice", "cmd", "lesson well Shadow scoring ruled out the new model within ten minutes"),
    S(0, "dave", "cmd", "lesson wrong The merchant_risk DAG stayed paused for two days and nobody was paged"),
    S(0, "erin", "cmd", "lesson lucky End-of-quarter sales had only just started, so few merchants were new"),
    S(1, "bob", "say", "Drafting the postmortem."),
    S(0.5, "bob", "postmortem"),
)

# The weeks after: the mitigations are verified stage by stage, the incident is closed and its fix saved as a pattern
# card; three weeks later the model fails the same way, the new incident is offered as a recurrence and the card is
# suggested; the stats and a process audit show what held and what the retrospective left undone. `where` is the
# channel: the first incident's, the second's, or #general.
Where = Literal["first", "second", "general"]
AfterKind = Literal["cmd", "say", "close", "declare", "recurrence"]


@dataclass(frozen=True)
class After:
    """One step of the weeks after the incident; the transcript quotes up to `show` lines of Retro's answer, those
    matching `pick` when it is given."""

    minutes: float
    user: str
    kind: AfterKind
    text: str = ""
    where: Where = "first"
    show: int = 1
    pick: str = ""


SECOND = "start Fraud scorer declines new merchants again sev=2 type=data-quality model=fraud-scorer@4.3"
A = After
AFTER: tuple[After, ...] = (
    A(1440, "dave", "cmd", "evidence dashboard https://grafana.example.com/d/feature-store/freshness staging: the "
                           "freshness alert fired 4 minutes after a test partition was held back 6 hours", show=0),
    A(1, "dave", "cmd", "check A1 stage=staging result=pass evidence=E8 alert fired within 5 minutes"),
    A(1440, "dave", "cmd", "evidence dashboard https://grafana.example.com/d/feature-store/freshness canary: the "
                           "alert fired for the canary region's delayed partition, nothing else", show=0),
    A(1, "dave", "cmd", "check A1 stage=canary result=pass evidence=E9 one true alert, no false ones"),
    A(1440, "dave", "cmd", "evidence dashboard https://grafana.example.com/d/feature-store/freshness prod: a week "
                           "of partitions, every one fresh within 2 hours; a forced delay alerted in 4 minutes",
      show=0),
    A(1, "dave", "cmd", "check A1 stage=prod result=pass evidence=E10 forced delay alerted in 4 minutes", show=2),
    A(60, "carol", "cmd", "evidence notebook https://notebooks.example.com/fraud/freshness-guard staging replay: "
                          "requests with features older than 24h fell back to the rules engine", show=0),
    A(1, "carol", "cmd", 'check A2 stage=staging result=pass evidence=E11 rollback="set '
                         'fraud.freshness_guard=false" replay fell back as designed', show=2),
    A(30, "dave", "cmd", "done A1 freshness alert live in every region", show=0),
    A(1, "dave", "cmd", "done A4 paused-DAG alerts now page the data on-call", show=0),
    A(1, "bob", "cmd", "review request {erin} owner={bob}", show=0),
    A(60, "alice", "close", "status closed merchant_risk fresh; freshness alert verified in prod", show=4),
    A(5, "dave", "cmd", 'pattern save H3 A1 A2 name="Stale feature partition"'),
    A(27360, "alice", "declare", SECOND, where="general", show=4,
      pick=r"^(Possible recurrence of #inc-\S+:|Patterns that may fit|P1 )"),
    A(2, "dave", "say", "Freshness alert fired 10 minutes ago: merchant_risk is 6 hours stale again. The alert "
                        "worked; the guardrail (A2) never got past staging, so we scored on stale features again.",
      where="second"),
    A(1, "dave", "recurrence", where="second", pick="Confirmed by"),
    A(1, "dave", "cmd", "hypothesis from=P1", where="second"),
    A(10, "alice", "cmd", "stats period=90d", where="general", show=6,
      pick=r"^(Verified corrective|Median time from action|Confirmed recurrences|Recurrence by)"),
    A(1, "alice", "cmd", "audit period=90d", where="general", show=30, pick=r"^(\d+ closed|•|#inc-)"),
)
