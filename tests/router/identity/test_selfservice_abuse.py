"""The one-time code against the people it must not serve: an identity an
agent linked without proof, a prober, a crowd claiming at once, a customer
whose order number looks like digits. Real store, real router; what each
person receives is read from the outbox, as the platforms would get it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bot.desk import BotDesk, unanswered
from router.core import Router
from router.models import Agent, IdentityRef, Role
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from tests.router.identity.backend import fresh_store
from tests.router.identity.merging import merger
from tests.router.identity.test_flow import Clock, msg
from tests.router.identity.test_selfservice import (
    DECLINED_RU,
    EXPIRED_RU,
    KNOWN,
    LINKED_RU,
    NOBODY,
    EchoBot,
    Visitor,
    codes_to,
    make_router,
    offer_ru,
    outbox,
    whatsapp_customer,
)
from tests.router.routing.rules.conftest import write_config

SECRET = "Мой заказ 1234 — секрет"


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store(request, tmp_path / "abuse.db") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def customer_of(router: Router, kind: str, value: str) -> str:
    customer = await router.store.find_identity(router.identity.identity_of(IdentityRef(kind=kind, value=value)))
    assert customer is not None
    return customer.id


async def ann(router: Router) -> Agent:
    return await router.store.create_agent("ann", "Ann", Role.AGENT, "x")


# -- 1. a proof shows history only to the identity that gave it ------------------------------
async def test_a_phone_linked_by_an_agent_without_proof_gets_no_code_and_shows_nothing(
    store: Store, clock: Clock
) -> None:
    """W writes on Telegram; V's WhatsApp is merged into W by an agent (no
    proof). Whoever then claims V's phone in the site chat must not get W's
    Telegram story: an unproven identity holds the phone for no code."""
    router = make_router(store, clock)
    await router.on_message(msg("telegram", "777", "tg-1", "W: моя история в Telegram"))
    await whatsapp_customer(router, "V пишет")
    agent = await ann(router)
    await merger(router).merge_customers(await customer_of(router, "telegram", "777"),
                                 await customer_of(router, "whatsapp", f"whatsapp:{KNOWN}"), agent, "looks same")
    visitor = Visitor(router, "visitor-1", KNOWN)
    await visitor.says("Здравствуйте")
    assert await visitor.received() == [offer_ru(KNOWN)]  # the same words: a decoy
    assert await codes_to(router, f"whatsapp:{KNOWN}") == []
    assert not any("Telegram" in t for t in await visitor.history())


async def test_a_code_proves_only_who_typed_it_not_who_an_agent_merged_in(store: Store, clock: Clock) -> None:
    """B was merged by an agent into V's site-chat profile; V proves the
    phone by a code: V sees the WhatsApp history, B still sees only its own."""
    router = make_router(store, clock)
    await whatsapp_customer(router, SECRET)
    stranger = Visitor(router, "stranger")
    await stranger.says("Я B")
    owner = Visitor(router, "owner", KNOWN)
    await owner.says("Привет")
    await merger(router).merge_customers(await customer_of(router, "webchat", "owner"),
                                 await customer_of(router, "webchat", "stranger"), await ann(router), "looks same")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    await owner.says(code)
    assert (await owner.received())[-1] == LINKED_RU
    assert SECRET in await owner.history()
    assert SECRET not in await stranger.history()
    identities = {i.ref.value: i.verified for i in await store.customer_identities(
        await customer_of(router, "webchat", "owner"))}
    assert identities == {"owner": True, "stranger": False, KNOWN: True}


async def test_a_telegram_contact_proves_only_the_telegram_account(store: Store, clock: Clock) -> None:
    """The platform's proof (a contact of the sender's own account) merges
    the customer into the phone's owner: an identity an agent had linked to
    that customer without proof stays unproven and sees nothing of the owner."""
    router = make_router(store, clock)
    await whatsapp_customer(router, SECRET)
    stranger = Visitor(router, "stranger")
    await stranger.says("Я B")
    await router.on_message(msg("telegram", "5551234", "tg-1", "Привет"))
    await merger(router).merge_customers(await customer_of(router, "telegram", "5551234"),
                                 await customer_of(router, "webchat", "stranger"), await ann(router), "looks same")
    await router.on_message(msg("telegram", "5551234", "tg-2", "", proven_phone=KNOWN))
    assert await customer_of(router, "telegram", "5551234") == await customer_of(router, "whatsapp",
                                                                                   f"whatsapp:{KNOWN}")
    assert SECRET in [m.text for m in await router.history(IdentityRef(kind="telegram", value="5551234"))]
    assert SECRET not in await stranger.history()


# -- 2. the daily cap holds against claims made at the same moment -----------------------------
async def test_claims_at_the_same_moment_send_no_more_codes_than_the_daily_cap(store: Store,
                                                                               clock: Clock) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router)
    crowd = [Visitor(router, f"visitor-{i}", KNOWN) for i in range(12)]
    await asyncio.gather(*(v.says("Здравствуйте") for v in crowd))
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 3
    for visitor in crowd:  # everyone is told the same
        assert await visitor.received() == [offer_ru(KNOWN)]


# -- 3. digits that are no code are an ordinary message ------------------------------------------
async def code_offered(store: Store, clock: Clock, tmp_path: Path) -> tuple[Router, BotDesk, EchoBot, Visitor]:
    """A bot behind the rules, a WhatsApp customer, and a site visitor who greeted it giving that
    customer's phone: a code is offered, and the bot is done with the greeting."""
    bot = EchoBot()
    router = make_router(store, clock, bot=bot, routing=RulesRouting(load_rules(write_config(tmp_path / "c")), clock))
    assert router.bot_desk is not None
    await whatsapp_customer(router)
    visitor = Visitor(router, "visitor-1", KNOWN)
    await visitor.says("Здравствуйте")
    await router.bot_desk.drain()
    return router, router.bot_desk, bot, visitor


async def test_an_order_number_a_date_or_a_phone_is_answered_by_the_bot(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    _, desk, bot, visitor = await code_offered(store, clock, tmp_path)
    for text in ["12345678", "2024-05-01", "8 916 123-45-67"]:  # while the code is pending
        await visitor.says(text)
        await desk.drain()
    assert bot.asked[-3:] == ["12345678", "2024-05-01", "8 916 123-45-67"]
    assert not any(t.startswith("Код не подошёл") for t in await visitor.received())


async def test_a_code_past_its_time_is_expired_once_where_it_was_offered_and_then_ordinary(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    router, desk, bot, visitor = await code_offered(store, clock, tmp_path)
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    clock.advance(601)
    await visitor.says(code)
    await desk.drain()
    assert (await visitor.received())[-1] == EXPIRED_RU
    await visitor.says("123456")  # days later, an order number: the bot's to answer
    await desk.drain()
    assert bot.asked[-1] == "123456"


async def test_a_code_past_its_time_typed_in_another_conversation_is_no_attempt(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    router, desk, bot, visitor = await code_offered(store, clock, tmp_path)
    [first] = await store.customer_conversations(await customer_of(router, "webchat", "visitor-1"))
    await router.conversations.resolve(first.id, await ann(router))
    clock.advance(3 * 86400)
    visitor.phone = None
    await visitor.says("Заказ 654321 не пришёл")
    await desk.drain()
    await visitor.says("654321")
    await desk.drain()
    assert bot.asked[-1] == "654321"
    assert EXPIRED_RU not in await visitor.received()


# -- 4. only the customer's own identity acts on their code ---------------------------------------
async def test_an_identity_linked_without_proof_cannot_try_or_decline_the_customers_code(
    store: Store, clock: Clock
) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router, SECRET)
    owner = Visitor(router, "owner", KNOWN)
    await owner.says("Привет")
    stranger = Visitor(router, "stranger")
    await stranger.says("Я B")
    await merger(router).merge_customers(await customer_of(router, "webchat", "owner"),
                                 await customer_of(router, "webchat", "stranger"), await ann(router), "looks same")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    for _ in range(5):
        await stranger.says("000000" if code != "000000" else "111111")
    await stranger.says("нет, спасибо")
    received = await stranger.received()
    assert not any(t.startswith("Код не подошёл") or t == DECLINED_RU for t in received)
    await owner.says(code)  # the customer's code still works
    assert (await owner.received())[-1] == LINKED_RU


# -- 5. the bot's offer is never throttled per claimant: the same words for any number -----------
async def test_a_known_number_is_offered_as_often_as_an_unknown_one(store: Store, clock: Clock) -> None:
    router = make_router(store, clock, max_sends=2, max_offered_codes_per_key_per_day=10)
    await whatsapp_customer(router)
    agent = await ann(router)
    for number, name in [(KNOWN, "prober-known"), (NOBODY, "prober-nobody")]:
        prober = Visitor(router, name, number)
        for _ in range(4):  # a conversation each: each offers the number once
            await prober.says("Здравствуйте")
            clock.advance(601)  # the code ignored
            for view in await store.customer_conversations(await customer_of(router, "webchat", name)):
                if view.status.value != "resolved":
                    await router.conversations.resolve(view.id, agent)
        assert [t for t in await prober.received() if t.startswith("Если номер")] == [offer_ru(number)] * 4


# -- 6. a number merely mentioned gets no code ---------------------------------------------------
async def test_a_number_mentioned_in_a_message_gets_no_code_but_one_given_does(store: Store,
                                                                               clock: Clock) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router)
    mentions = Visitor(router, "visitor-1")
    await mentions.says("Позвоните, пожалуйста, жене: +7 912 345-67-89")
    assert await codes_to(router, f"whatsapp:{KNOWN}") == []
    assert await mentions.received() == []
    claims = await store.customer_claims(await customer_of(router, "webchat", "visitor-1"))
    assert [(c.kind, c.value) for c in claims] == [("phone", KNOWN)]  # still recorded for an agent
    gives = Visitor(router, "visitor-2")
    await gives.says("Мой номер: +7 912 345-67-89")
    assert await gives.received() == [offer_ru(KNOWN)]
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 1
    # saying the number is one's own counts, with a question after it too
    asks = Visitor(router, "visitor-3")
    await asks.says("Мой номер 8 912 345-67-89, где мой заказ?")
    assert await asks.received() == [offer_ru(KNOWN)]
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 2
    other = Visitor(router, "visitor-4")
    await other.says("Номер жены 8 912 345-67-89, где заказ?")
    assert await other.received() == []


# -- 7. the code message answers nothing the holder asked ----------------------------------------
async def test_the_code_sent_to_the_holder_leaves_their_question_unanswered(store: Store,
                                                                            clock: Clock) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router, "Где мой заказ?")
    await Visitor(router, "visitor-1", KNOWN).says("Здравствуйте")
    [view] = await store.customer_conversations(await customer_of(router, "whatsapp", f"whatsapp:{KNOWN}"))
    _, pending = unanswered(await store.list_messages(view.id, 50))
    assert [m.text for m in pending] == ["Где мой заказ?"]


# -- 8. the offer's words go out before any code -------------------------------------------------
async def test_the_offer_is_queued_before_the_code(store: Store, clock: Clock) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router)
    await Visitor(router, "visitor-1", KNOWN).says("Здравствуйте")
    assert [p.recipient for p in await outbox(router)] == ["visitor-1", f"whatsapp:{KNOWN}"]


# -- 9. undoing a code's link gives back the claim as it was ---------------------------------------
async def test_unmerging_a_code_link_gives_back_the_unproven_claim(store: Store, clock: Clock) -> None:
    router = make_router(store, clock)
    await whatsapp_customer(router)
    visitor = Visitor(router, "visitor-1", KNOWN)
    await visitor.says("Здравствуйте")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    await visitor.says(code)
    assert (await visitor.received())[-1] == LINKED_RU
    [merge] = await store.customer_merges(await customer_of(router, "webchat", "visitor-1"))
    await merger(router).unmerge_customers(merge.id, await ann(router), "not the same person")
    claims = await store.customer_claims(await customer_of(router, "webchat", "visitor-1"))
    assert [(c.value, c.verified_at) for c in claims] == [(KNOWN, None)]
