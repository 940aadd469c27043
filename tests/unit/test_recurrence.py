"""Recurrence in the domain: which earlier incidents are offered, answering an offer once, and what "held" counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.blocks.kit import MESSAGE_TEXT_BUDGET, text_size
from bot.blocks.recurrence_offer import offer_blocks
from bot.catalog import load_catalog
from bot.errors import RetroError
from bot.followup.verification import VerifiedAction
from bot.ids import ActionId
from bot.incident import incidents
from bot.insights import recurrence
from bot.insights.outcomes import held_over
from bot.insights.recurrence import Link, words_of
from bot.loop_config import RecurrenceConfig
from bot.record import chain
from storage.models import Incident
from tests.postmortem_world import ALICE, BOB, T0, TEAM, World, add_hypothesis, world


def test_words_leave_out_common_and_short_words_and_fold_plurals() -> None:
    assert words_of("The labels are missing for 2 days in EU") == {"label", "missing", "days"}  # 4 letters stay
    assert words_of("Loss of class balance") == {"loss", "class", "balance"}  # "ss" stays
    assert words_of("Features_v2 drift") == {"feature", "drift"}


def _action(incident_id: int, verified: datetime) -> VerifiedAction:
    return VerifiedAction(action_id=incident_id * 10, incident_id=incident_id, number=1, verified_at=verified,
                          regressed_at=None, created_at=verified - timedelta(days=1))


def _link(earlier: int, declared: datetime) -> Link:
    return Link(id=1, team_id=TEAM, incident_id=99, earlier_id=earlier, reason="model", declared_at=declared,
                confirmed_at=declared, confirmed_by=BOB)


def test_held_counts_recurrences_after_verification_within_the_horizon() -> None:
    now = T0 + timedelta(days=100)
    actions = [_action(1, T0), _action(2, T0), _action(3, T0), _action(4, now - timedelta(days=5))]
    links = [_link(1, T0 + timedelta(days=30)),  # on the horizon's last moment: it did not hold
             _link(2, T0 - timedelta(hours=1)),  # before the fix was verified: not held against it
             _link(3, T0 + timedelta(days=31))]  # after 30 days, within 90
    thirty, ninety = held_over(actions, links, 30, now), held_over(actions, links, 90, now)
    assert (thirty.counted, thirty.held, thirty.pending) == (3, 2, 1)
    assert (ninety.counted, ninety.held, ninety.pending) == (3, 1, 1)
    assert ninety.share == pytest.approx(1 / 3)
    early = held_over(actions, [_link(4, now - timedelta(days=1))], 30, now)
    assert (early.counted, early.held, early.pending) == (4, 3, 0)  # the 4th recurred inside its horizon: counted


async def _incident(w: World, title: str, *, at: datetime, models: tuple[str, ...] = (), category: str = "data-drift",
                    private: bool = False, n: int) -> Incident:
    decl = incidents.validate_declaration(w.catalog, title=title, severity=2, category=category, models=models,
                                          private="yes" if private else None)
    async with w.session() as s:
        return await incidents.create(s, team_id=TEAM, decl=decl, declared_by=ALICE, declared_in="C0GENERAL",
                                      channel_id=f"C0INC{n}", channel_name=f"inc-{n}", now=at)


async def test_offers_stay_within_the_window_leave_private_incidents_out_and_are_made_once(database_url: str) -> None:
    config = RecurrenceConfig(window_days=30, offers=2)
    async with world(database_url) as w:
        old = await _incident(w, "Fraud drift", at=T0 - timedelta(days=31), models=("fraud@1",), n=1)
        hidden = await _incident(w, "Fraud drift", at=T0 - timedelta(days=3), models=("fraud@2",), private=True, n=2)
        near = await _incident(w, "Fraud drift", at=T0 - timedelta(days=2), models=("fraud@3",), n=3)
        nearer = await _incident(w, "Fraud drift", at=T0 - timedelta(days=1), models=("fraud@3",), n=4)
        cause = await _incident(w, "Stale feature store", at=T0 - timedelta(hours=5), n=5)
        async with w.session() as s:
            await add_hypothesis(s, cause, "The feature store served stale embeddings", by=ALICE,
                                 at=T0 - timedelta(hours=4), verdict="confirmed")
            await s.commit()
        new = await _incident(w, "Stale embeddings again", at=T0, models=("fraud@4",), n=6)
        async with w.session() as s:
            found = await recurrence.candidates(s, new, RecurrenceConfig(window_days=30, offers=5))
            offers = await recurrence.offer(s, new, config, now=T0)
            again = await recurrence.offer(s, new, config, now=T0)
    assert [(c[0].id, c[1], c[2]) for c in found] == [
        (nearer.id, "model", ("fraud",)), (near.id, "model", ("fraud",)),
        (cause.id, "category", ("embedding", "stale"))]
    assert old.id not in [c[0].id for c in found] and hidden.id not in [c[0].id for c in found]
    assert [o.earlier.id for o in offers] == [nearer.id, near.id] and again == []


async def test_an_offer_is_answered_once_from_its_own_channel(database_url: str) -> None:
    async with world(database_url) as w:
        first = await _incident(w, "Fraud drift", at=T0 - timedelta(days=2), models=("fraud",), n=1)
        new = await _incident(w, "Fraud drift again", at=T0, models=("fraud",), n=2)
        async with w.session() as s:
            (offer,) = await recurrence.offer(s, new, RecurrenceConfig(), now=T0)
            with pytest.raises(RetroError, match="not one of this channel's"):
                await recurrence.decide(s, link_id=offer.link_id, team_id=TEAM, channel_id=first.channel_id,
                                        confirmed=True, actor=BOB, now=T0)
            with pytest.raises(RetroError):
                await recurrence.decide(s, link_id=offer.link_id, team_id="T0OTHER", channel_id=new.channel_id,
                                        confirmed=True, actor=BOB, now=T0)
            yes = await recurrence.decide(s, link_id=offer.link_id, team_id=TEAM, channel_id=new.channel_id,
                                          confirmed=True, actor=BOB, now=T0 + timedelta(minutes=1))
            no = await recurrence.decide(s, link_id=offer.link_id, team_id=TEAM, channel_id=new.channel_id,
                                         confirmed=False, actor=ALICE, now=T0 + timedelta(minutes=2))
            links = await recurrence.confirmed_recurrences(s, TEAM)
            kinds = [e.kind for e in await chain.entries_of(s, new.id or 0)]
    assert yes.changed and not no.changed and (no.link.state, no.link.decided_by) == ("confirmed", BOB)
    assert kinds.count("recurrence_confirmed") == 1 and "recurrence_dismissed" not in kinds
    assert [(x.incident_id, x.earlier_id, x.declared_at, x.confirmed_by) for x in links] == [
        (new.id, first.id, T0, BOB)]


def test_the_offer_fits_one_message_at_its_longest_and_shows_each_answer() -> None:
    catalog = load_catalog()
    cause = "x" * 5000
    offers = []
    with pytest.raises(ValidationError):
        RecurrenceConfig(offers=6)
    for n in range(5):  # the most a team may ask for
        earlier = Incident(id=n + 1, team_id=TEAM, channel_id=f"C{n:09d}", channel_name=f"inc-{n}-" + "y" * 70,
                           title="<!channel> " + "z" * 400, severity=2, category="data-drift",
                           declared_by=ALICE, created_at=T0)
        state = ("offered", "confirmed", "dismissed")[n % 3]
        offers.append(recurrence.Offer(n + 1, earlier, "category", tuple(f"w{i}" * 20 for i in range(30)), cause,
                                       state, BOB if state != "offered" else None))
    blocks = offer_blocks(offers, catalog)
    assert text_size(blocks) <= MESSAGE_TEXT_BUDGET and "<!channel>" not in str(blocks)
    shown = str(blocks)
    assert all(f"#{o.earlier.channel_name}" in shown for o in offers)
    assert shown.count(ActionId.RECURRENCE_CONFIRM) == 2 and shown.count("Marked not related by <@U0BOB>") == 1
