"""The ratings a report reads (router/reports/store.py ``ratings``), on every
backend of tests/router/store/test_contract.py: each carries the customer's
tier when the rated cycle started, so CSAT is grouped by tier as the other
figures are."""

from __future__ import annotations

from datetime import timedelta

from router.csat.types import Survey
from router.models import new_id
from router.reports.figures import GroupBy, Queues, report
from router.store.base import Store
from tests.router.reports.test_figures_contract import DAY, SUPPORT, _open, _resolve, at
from tests.router.store.test_contract import inbound

WHOLE_DAY = (DAY, DAY + timedelta(days=1))


async def _rated(store: Store, sender: str, rating: int, tier: str | None) -> None:
    conversation_id = await _open(store, sender, at(9, 0), SUPPORT, tier=tier)
    await _resolve(store, conversation_id, None, at(9, 30))
    view = await store.get_conversation(conversation_id)
    survey = Survey(id=new_id("csat"), conversation_id=conversation_id, customer_id=view.customer_id,
                    agent_id=None, team="support", channel="webchat", language="en", asked_at=at(9, 31))
    assert await store.claim_survey(survey)
    await store.survey_asked(survey.id, f"msg_q_{survey.id}")
    answer, _ = await store.insert_inbound(inbound(external_id=f"a-{sender}", sender=sender, text=str(rating)),
                                           at(9, 35))
    assert await store.rate_survey(survey.id, rating, answer.id, at(9, 35)) is not None


async def test_a_rating_carries_the_tier_of_its_cycle_and_csat_groups_by_it(store: Store) -> None:
    await _rated(store, "u1", 5, "gold")
    await _rated(store, "u2", 2, None)
    ratings = await store.ratings(*WHOLE_DAY)
    assert sorted((r.rating, r.tier) for r in ratings) == [(2, None), (5, "gold")]
    made = report(await store.conversation_events(*WHOLE_DAY), ratings, *WHOLE_DAY, GroupBy.TIER, Queues())
    assert {r["group"]: (r["csat_count"], r["csat_average"]) for r in made.rows} == {
        "-": (1, 2.0), "gold": (1, 5.0)}
