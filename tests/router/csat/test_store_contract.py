"""The surveys' part of the store contract (router/csat/store.py), on every
backend of tests/router/store/test_contract.py: asked at most once per
conversation, even by two stores (two nodes) at once; each answer recorded
once; the answering message joins the resolved conversation, which stays
resolved and is never listed as unrouted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from router.csat.types import Survey
from router.models import Author, ConversationStatus, new_id
from router.store.base import Store
from tests.router.store.test_contract import T0, StoreFactory, inbound, ingest, outbound


async def _resolved(store: Store, sender: str = "u1") -> tuple[str, str]:
    """A resolved conversation of a customer; (conversation id, customer id)."""
    _, conversation_id = await ingest(store, inbound(external_id=f"q-{sender}", sender=sender))
    view = await store.set_conversation_state(conversation_id, ConversationStatus.RESOLVED, None, T0)
    assert view.status is ConversationStatus.RESOLVED
    assert view.customer_id is not None
    return conversation_id, view.customer_id


def _survey(conversation_id: str, customer_id: str, minutes: int = 0) -> Survey:
    return Survey(id=new_id("csat"), conversation_id=conversation_id, customer_id=customer_id, agent_id="agt_1",
                  team="support", channel="webchat", language="en", asked_at=T0 + timedelta(minutes=minutes))


async def _asked(store: Store, survey: Survey) -> Survey:
    """``survey`` claimed and its question put in the outbox: as the service asks."""
    assert await store.claim_survey(survey)
    await store.survey_asked(survey.id, f"msg_q_{survey.id}")
    return survey.model_copy(update={"question_message_id": f"msg_q_{survey.id}"})


async def _answer(store: Store, external_id: str, text: str, sender: str = "u1") -> str:
    stored, _ = await store.insert_inbound(inbound(external_id=external_id, sender=sender, text=text), T0)
    return stored.id


async def test_a_conversation_is_asked_once(store: Store) -> None:
    conversation_id, customer_id = await _resolved(store)
    first = _survey(conversation_id, customer_id)
    assert await store.claim_survey(first)
    assert not await store.claim_survey(_survey(conversation_id, customer_id, minutes=1))
    await store.survey_asked(first.id, "msg_question")
    kept = await store.conversation_survey(conversation_id)
    assert kept is not None and kept.id == first.id and kept.question_message_id == "msg_question"
    assert kept.rating is None and kept.asked_at == T0 and kept.agent_id == "agt_1" and kept.team == "support"


async def test_two_stores_claiming_at_once_ask_once(store_factory: StoreFactory) -> None:
    """Two nodes (two stores on one database) resolving the same conversation
    at once: one claim wins, whatever the interleaving."""
    async with store_factory() as a, store_factory() as b:
        conversation_id, customer_id = await _resolved(a)
        first = [_survey(conversation_id, customer_id) for _ in range(6)]
        won = await asyncio.gather(*(s.claim_survey(c) for s, c in zip([a, b] * 3, first, strict=True)))
        assert sum(won) == 1
        winner = next(c for c, w in zip(first, won, strict=True) if w)
        for _ in range(3):  # and again, later: asked already
            again = [_survey(conversation_id, customer_id) for _ in range(4)]
            assert not any(await asyncio.gather(*(s.claim_survey(c) for s, c in zip([a, b] * 2, again, strict=True))))
        kept = await b.conversation_survey(conversation_id)
        assert kept is not None and kept.id == winner.id
        assert [s.id for s in await a.customer_surveys(customer_id, 10)] == [winner.id]


async def test_a_rating_is_recorded_once_and_its_message_joins_the_resolved_conversation(store: Store) -> None:
    conversation_id, customer_id = await _resolved(store)
    survey = await _asked(store, _survey(conversation_id, customer_id))
    assert (await store.awaiting_survey(customer_id)) == survey
    message_id = await _answer(store, "a1", "4")
    rated = await store.rate_survey(survey.id, 4, message_id, T0 + timedelta(minutes=2))
    assert rated is not None and rated.rating == 4 and rated.answered_at == T0 + timedelta(minutes=2)
    second = await _answer(store, "a2", "5")
    assert await store.rate_survey(survey.id, 5, second, T0 + timedelta(minutes=3)) is None
    kept = await store.get_survey(survey.id)
    assert kept is not None and kept.rating == 4
    for mid in (message_id, second):
        assert (await store.get_message(mid)).conversation_id == conversation_id
    assert (await store.get_conversation(conversation_id)).status is ConversationStatus.RESOLVED
    assert await store.unrouted_messages(10) == []
    # rated, no comment yet: still awaited (for its comment)
    assert (await store.awaiting_survey(customer_id)) == kept


async def test_a_comment_follows_the_rating_once(store: Store) -> None:
    conversation_id, customer_id = await _resolved(store)
    survey = await _asked(store, _survey(conversation_id, customer_id))
    early = await _answer(store, "c0", "too early")
    assert await store.comment_survey(survey.id, "too early", early, T0) is None  # not rated yet
    await store.rate_survey(survey.id, 2, await _answer(store, "r", "2"), T0)
    commented = await store.comment_survey(survey.id, "slow answer", await _answer(store, "c1", "slow answer"), T0)
    assert commented is not None and commented.comment == "slow answer" and commented.rating == 2
    assert await store.comment_survey(survey.id, "again", await _answer(store, "c2", "again"), T0) is None
    assert await store.awaiting_survey(customer_id) is None


async def test_a_bad_number_is_reasked_once_and_closing_stops_typed_answers(store: Store) -> None:
    conversation_id, customer_id = await _resolved(store)
    survey = await _asked(store, _survey(conversation_id, customer_id))
    reasked = await store.reask_survey(survey.id, await _answer(store, "b1", "9"))
    assert reasked is not None and reasked.reasked
    second = await _answer(store, "b2", "0")
    assert await store.reask_survey(survey.id, second) is None
    assert (await store.get_message(second)).conversation_id is None  # left for routing: an ordinary message
    await store.close_survey(survey.id, T0 + timedelta(minutes=5))
    await store.close_survey(survey.id, T0 + timedelta(minutes=9))  # no-op: the first close is kept
    assert await store.awaiting_survey(customer_id) is None
    closed = await store.get_survey(survey.id)
    assert closed is not None and closed.closed_at == T0 + timedelta(minutes=5)
    # a button may still rate a closed survey
    assert await store.rate_survey(survey.id, 3, await _answer(store, "b3", "3"), T0) is not None


async def test_surveys_for_reports_and_the_customers_panel(store: Store) -> None:
    ids = []
    for i, sender in enumerate(["u1", "u2", "u3"]):
        conversation_id, customer_id = await _resolved(store, sender)
        survey = _survey(conversation_id, customer_id, minutes=i)
        await store.claim_survey(survey)
        ids.append(survey.id)
    page = await store.list_surveys(T0, T0 + timedelta(hours=1), None, 2)
    assert [s.id for s in page] == ids[:2]
    rest = await store.list_surveys(T0, T0 + timedelta(hours=1), page[-1].id, 2)
    assert [s.id for s in rest] == ids[2:]
    assert await store.list_surveys(T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), None, 10) == [
        await store.get_survey(ids[1])]
    first = await store.get_survey(ids[0])
    assert first is not None
    assert await store.customer_surveys(first.customer_id, 10) == [first]
    assert await store.get_survey("csat_missing") is None


async def test_a_survey_claimed_but_never_asked_takes_no_typed_answer(store: Store) -> None:
    """Claimed, then the process died (or the customer wrote again) before the question went out."""
    conversation_id, customer_id = await _resolved(store)
    survey = _survey(conversation_id, customer_id)
    assert await store.claim_survey(survey)
    assert await store.awaiting_survey(customer_id) is None
    await store.survey_asked(survey.id, "msg_question")
    assert (await store.awaiting_survey(customer_id)) is not None


async def test_the_answers_are_the_customers_own_in_their_history(store: Store) -> None:
    """The widget's history (``customer_messages``) shows the customer their own rating and comment."""
    conversation_id, customer_id = await _resolved(store)
    survey = await _asked(store, _survey(conversation_id, customer_id))
    rating = await _answer(store, "h1", "4")
    await store.rate_survey(survey.id, 4, rating, T0)
    comment = await _answer(store, "h2", "quick, thanks")
    await store.comment_survey(survey.id, "quick, thanks", comment, T0)
    reask_survey = await _asked(store, _survey(*(await _resolved(store, "u2")), minutes=1))
    bad = await _answer(store, "h3", "9", sender="u2")
    await store.reask_survey(reask_survey.id, bad)
    history = [m.id for m in await store.customer_messages(customer_id, 100)]
    assert rating in history and comment in history
    assert bad in [m.id for m in await store.customer_messages(reask_survey.customer_id, 100)]


async def test_a_button_pressed_in_a_newer_conversation_joins_its_survey(store: Store) -> None:
    """The press was filed into the customer's newer open conversation as it was stored:
    the rating takes it back to the survey's conversation, the newer one keeps none of it."""
    conversation_id, customer_id = await _resolved(store)
    survey = await _asked(store, _survey(conversation_id, customer_id))
    _, newer = await ingest(store, inbound(external_id="n1", text="another question"))
    assert newer != conversation_id
    press, filed = await ingest(store, inbound(external_id="n2", text="5"))
    assert filed == newer
    assert await store.rate_survey(survey.id, 5, press.id, T0) is not None
    assert (await store.get_message(press.id)).conversation_id == conversation_id
    assert press.id not in [m.id for m in await store.list_messages(newer, 50)]
    again, _ = await ingest(store, inbound(external_id="n3", text="4"))
    assert await store.rate_survey(survey.id, 4, again.id, T0) is None  # a second press: beside the first
    assert (await store.get_message(again.id)).conversation_id == conversation_id
    assert press.id in [m.id for m in await store.customer_messages(customer_id, 100)]


async def test_only_an_agents_reply_answers_a_conversation(store: Store) -> None:
    """What the survey asks about: an agent replied to the customer in the conversation's current
    cycle. The bot's and automatic messages are no agent's; an unknown conversation is unanswered."""
    _, conversation_id = await ingest(store, inbound(external_id="q-a", sender="ua"))
    customer_id = (await store.get_conversation(conversation_id)).customer_id
    assert not await store.agent_answered(conversation_id)
    said, payload = outbound(conversation_id, customer_id, "ua", "the bot's answer")
    said = said.model_copy(update={"author": Author.BOT})
    await store.enqueue_outbound(said, payload.model_copy(update={"author": Author.BOT}), None, T0)
    assert not await store.agent_answered(conversation_id)
    reply, payload = outbound(conversation_id, customer_id, "ua", "an agent's answer")
    await store.enqueue_outbound(reply, payload, "agt_1", T0 + timedelta(minutes=1))
    assert await store.agent_answered(conversation_id)
    assert not await store.agent_answered("conv_missing")
