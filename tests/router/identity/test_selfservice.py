"""The bot's own offer of a code (issue 19, part 1) through the real pipeline:
a real SQLite store, bus, rules and router; what each customer would receive
is read from the outbox, as the platforms would get it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.bot.base import Bot, BotReply, BotTurn, ReplyKind
from router.bus import EventBus
from router.config import RoutingConfig
from router.connector import ReplyWindow
from router.core import Router
from router.identity.selfservice import declines
from router.identity.service import IdentityConfig, IdentityRules
from router.identity.verification import VerificationRefused
from router.metrics import Metrics
from router.models import Author, IdentityRef, OutboundMessage
from router.routing.decide import DefaultTeamRouting
from router.routing.rules import RulesRouting, load_rules
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.identity.backend import fresh_store
from tests.router.identity.test_flow import Clock, msg
from tests.router.routing.rules.conftest import write_config

KNOWN = "+79123456789"  # wrote on WhatsApp before
NOBODY = "+79261234567"  # nobody's


def offer_ru(number: str) -> str:
    return (f"Если номер {number} уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
            "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».")


WRONG_RU = "Код не подошёл. Осталось попыток: {left}."
EXPIRED_RU = "Срок действия кода истёк. Новый код может отправить наш сотрудник — просто попросите."
DEAD_RU = ("Слишком много неверных попыток: этот код больше не действует. Новый код может отправить наш "
           "сотрудник — просто попросите.")
LINKED_RU = "Готово: мы связали ваши обращения. Продолжим с того места, где вы остановились."
DECLINED_RU = "Хорошо, не будем. Чем можем помочь?"


class EchoBot(Bot):
    """An external bot's stand-in: answers every turn with what it was asked."""

    name = "echo"

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def respond(self, turn: BotTurn) -> BotReply:
        self.asked.append(turn.text)
        return BotReply(kind=ReplyKind.ANSWER, texts=[f"echo: {turn.text}"])


def make_router(store: Store, clock: Clock, bot: Bot | None = None, routing: RulesRouting | None = None,
                identity: dict[str, object] | None = None, **verification: object) -> Router:
    rules = IdentityRules(IdentityConfig.model_validate({**(identity or {}), "verification": verification}))
    router = Router(store, EventBus(), routing or DefaultTeamRouting(RoutingConfig()), Metrics(), clock=clock,
                    identity=rules, bot=bot)
    router.verifier.channels = frozenset({"whatsapp", "webchat", "sms"})
    return router


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store(request, tmp_path / "selfservice.db") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router(store: Store, clock: Clock) -> Router:
    return make_router(store, clock)


class Visitor:
    """A site-chat visitor who gave ``phone`` in the widget's hello: every message carries it."""

    def __init__(self, router: Router, name: str, phone: str | None = None) -> None:
        self.router, self.name, self.phone, self.n = router, name, phone, 0

    async def says(self, text: str) -> None:
        self.n += 1
        extras = {"claimed_phone": self.phone} if self.phone else {}
        await self.router.on_message(msg("webchat", self.name, f"{self.name}-{self.n}", text, **extras))

    async def received(self) -> list[str]:
        return [p.text for p in await outbox(self.router) if p.recipient == self.name]

    async def history(self) -> list[str]:
        return [m.text for m in await self.router.history(IdentityRef(kind="webchat", value=self.name))]


async def outbox(router: Router) -> list[OutboundMessage]:
    return [e.payload for e in await router.store.pending_outbox(1000)]


async def codes_to(router: Router, recipient: str) -> list[str]:
    """The codes sent to ``recipient`` (system messages: no bot or agent writes one)."""
    return [re.findall(r"\d{6}", p.text)[0] for p in await outbox(router)
            if p.recipient == recipient and p.author is Author.SYSTEM]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def whatsapp_customer(router: Router, text: str = "Мой заказ 1234 — секрет") -> None:
    await router.on_message(msg("whatsapp", f"whatsapp:{KNOWN}", "wa-1", text))


async def test_a_known_number_gets_the_offer_here_and_the_code_on_its_own_channel(router: Router) -> None:
    await whatsapp_customer(router)
    anna = Visitor(router, "visitor-1", "8 912 345 67 89")
    await anna.says("Здравствуйте")
    assert await anna.received() == [offer_ru(KNOWN)]
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    [sent] = [p for p in await outbox(router) if p.recipient == f"whatsapp:{KNOWN}"]
    assert sent.author is Author.SYSTEM and sent.text.startswith(f"Ваш код подтверждения: {code}.")
    assert "Мой заказ" not in "".join(await anna.history())  # nothing of WhatsApp's before the proof

    await anna.says(f"{code[:3]} {code[3:]}")
    assert (await anna.received())[-1] == LINKED_RU
    [linked] = [p for p in await outbox(router) if p.text == LINKED_RU]
    assert linked.history_changed  # the widget shows the history again
    assert "Мой заказ 1234 — секрет" in await anna.history()
    owner = await router.store.find_identity(IdentityRef(kind="whatsapp", value=KNOWN))
    visitor = await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    assert owner is not None and visitor is not None and owner.id == visitor.id
    # one customer, one open conversation, and no second offer for the number now proven
    await anna.says("Где мой заказ?")
    assert (await anna.received())[-1] == LINKED_RU
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 1


async def test_a_number_of_nobody_gets_the_same_words_and_answers_and_no_code_anywhere(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The class of the probe: whatever a visitor types, what they receive
    for a number nobody has is what they receive for a customer's."""
    seen: dict[str, list[str]] = {}
    for number in (KNOWN, NOBODY):
        async with fresh_store(request, tmp_path / f"{number}.db") as db:
            clock = Clock()
            router = make_router(db, clock)
            await whatsapp_customer(router)
            visitor = Visitor(router, "visitor-1", number)
            await visitor.says("Здравствуйте")
            for _ in range(2):
                await visitor.says("000000")  # wrong for the real code too, but for a one in a million
            clock.advance(601)
            await visitor.says("000000")
            seen[number] = [t.replace(number, "N") for t in await visitor.received()]
            if number == NOBODY:
                assert [p.recipient for p in await outbox(router)] == ["visitor-1"] * 4  # no code went anywhere
    assert seen[NOBODY] == seen[KNOWN] == [
        offer_ru("N"), WRONG_RU.format(left=4), WRONG_RU.format(left=3), EXPIRED_RU]


async def test_too_many_wrong_codes_kill_it_whether_the_number_is_known_or_not(router: Router) -> None:
    await whatsapp_customer(router)
    known, nobody = Visitor(router, "visitor-1", KNOWN), Visitor(router, "visitor-2", NOBODY)
    for visitor in (known, nobody):
        await visitor.says("Добрый день")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    for visitor in (known, nobody):
        for _ in range(5):
            await visitor.says(wrong(code))
    for visitor in (known, nobody):
        assert (await visitor.received())[-2:] == [WRONG_RU.format(left=1), DEAD_RU]
    await known.says(code)  # the right code, too late: it proves nothing now
    assert LINKED_RU not in await known.received()
    assert await router.store.customer_merges((await router.store.find_identity(
        IdentityRef(kind="whatsapp", value=KNOWN)) or pytest.fail("no owner")).id) == []
    # and the conversation never offers that number again
    await known.says("Ещё раз здравствуйте")
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 1


DECLINED_EN = "All right, we will leave it. How can we help?"


@pytest.mark.parametrize(("answer", "declined"), [
    ("нет", DECLINED_RU), ("Нет, спасибо!", DECLINED_RU), ("нет спасибо", DECLINED_RU), ("Не надо", DECLINED_RU),
    ("No thanks", DECLINED_EN), ("no, thank you.", DECLINED_EN),
])
async def test_a_no_declines_the_offer_for_good_in_this_conversation(router: Router, answer: str,
                                                                      declined: str) -> None:
    await whatsapp_customer(router)
    anna = Visitor(router, "visitor-1", KNOWN)
    await anna.says("Здравствуйте")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    await anna.says(answer)
    assert (await anna.received())[-1] == declined
    await anna.says(code)  # the code is dead: no link, and nothing said about it
    assert (await anna.received())[-1] == declined
    visitor = await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    assert visitor is not None and await router.store.customer_merges(visitor.id) == []
    await anna.says("А ещё вопрос")
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 1 and len(await anna.received()) == 2


async def test_a_no_without_an_offer_is_an_ordinary_message(router: Router) -> None:
    plain = Visitor(router, "visitor-1")
    await plain.says("нет")
    assert await plain.received() == []


def test_what_counts_as_a_no() -> None:
    assert all(declines(t) for t in ["нет", "НЕТ!", "нет, спасибо", "no thanks 🙂", "No, thank you", "не нужно"])
    assert not any(declines(t) for t in ["нет денег на счёте", "no idea where my order is", "да", "123456"])


async def test_offers_are_one_at_a_time_and_at_most_three_a_conversation(router: Router, clock: Clock) -> None:
    numbers = ["+79261234501", "+79261234502", "+79261234503", "+79261234504"]
    prober = Visitor(router, "visitor-1")
    await prober.says(f"Мои номера {numbers[0]} и {numbers[1]}")
    assert await prober.received() == [offer_ru(numbers[0])]  # one at a time
    for number in numbers[1:]:
        clock.advance(601)
        await prober.says(f"Мой номер {number}")
    await prober.says("нет")  # the third offer, declined
    await prober.says(f"А вот {numbers[3]}")
    offers = [t for t in await prober.received() if t.startswith("Если номер")]
    assert offers == [offer_ru(n) for n in numbers[:3]]


async def with_bot(store: Store, clock: Clock, tmp_path: Path, bot: Bot) -> Router:
    """The shipped rules with ``bot``, after a WhatsApp customer's "Привет" it answered."""
    routing = RulesRouting(load_rules(write_config(tmp_path / "config")), clock)
    router = make_router(store, clock, bot=bot, routing=routing)
    await whatsapp_customer(router, "Привет")
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    return router


async def test_the_bot_does_not_answer_a_code_or_a_no_but_answers_the_message_with_the_claim(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    bot = EchoBot()
    router = await with_bot(store, clock, tmp_path, bot)
    assert router.bot_desk is not None
    anna = Visitor(router, "visitor-1", KNOWN)
    await anna.says("Здравствуйте")
    await router.bot_desk.drain()
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    await anna.says(wrong(code))
    await router.bot_desk.drain()
    await anna.says("нет, спасибо")
    await router.bot_desk.drain()
    assert bot.asked == ["Привет", "Здравствуйте"]
    assert await anna.received() == [offer_ru(KNOWN), "echo: Здравствуйте", WRONG_RU.format(left=4), DECLINED_RU]


async def test_an_english_speaker_is_answered_in_english_even_to_bare_digits(router: Router) -> None:
    await router.on_message(msg("whatsapp", f"whatsapp:{KNOWN}", "wa-1", "Where is my order?"))
    ann = Visitor(router, "visitor-1", KNOWN)
    await ann.says("Hello there")
    [code] = await codes_to(router, f"whatsapp:{KNOWN}")
    [sent] = [p for p in await outbox(router) if p.recipient == f"whatsapp:{KNOWN}"]
    assert sent.text.startswith(f"Your verification code: {code}.")  # the holder wrote English
    await ann.says(wrong(code))
    await ann.says(code)
    assert await ann.received() == [
        f"If {KNOWN} is a number we already know, we have sent a code to it. Type it here and we will continue "
        "where you left off. Not needed? Write \"no thanks\".",
        "That code is not right. Tries left: 4.",
        "Done: we have linked your conversations. Let us continue where you left off.",
    ]


async def test_an_agent_can_still_send_a_code_after_the_bots_offer(router: Router, clock: Clock) -> None:
    await whatsapp_customer(router)
    anna = Visitor(router, "visitor-1", KNOWN)
    await anna.says("Здравствуйте")
    visitor = await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    assert visitor is not None
    claim = (await router.store.customer_claims(visitor.id))[0]
    with pytest.raises(ConflictError, match="try again in 60 s"):  # the bot's code went out moments ago
        await router.verifier.start(visitor.id, claim.id)
    clock.advance(61)
    again = await router.verifier.start(visitor.id, claim.id)
    assert (again.origin, again.sends, again.conversation_id is not None) == ("agent", 2, True)
    first, second = await codes_to(router, f"whatsapp:{KNOWN}")
    if first != second:
        await anna.says(first)  # replaced by the agent's
        assert (await anna.received())[-1] == WRONG_RU.format(left=4)
    await anna.says(second)
    assert (await anna.received())[-1] == LINKED_RU


async def test_an_agent_cannot_send_a_code_for_a_number_nobody_can_be_reached_by(router: Router) -> None:
    nobody = Visitor(router, "visitor-1", NOBODY)
    await nobody.says("Здравствуйте")
    visitor = await router.store.find_identity(IdentityRef(kind="webchat", value="visitor-1"))
    assert visitor is not None
    claim = (await router.store.customer_claims(visitor.id))[0]
    with pytest.raises(VerificationRefused, match="no connected channel can reach phone"):
        await router.verifier.start(visitor.id, claim.id)


async def test_a_customer_is_not_offered_their_own_number(router: Router) -> None:
    await router.on_message(msg("whatsapp", f"whatsapp:{KNOWN}", "wa-1", f"Мой номер {KNOWN}, перезвоните"))
    assert await outbox(router) == []


async def test_no_offer_when_self_service_is_off(store: Store, clock: Clock) -> None:
    router = make_router(store, clock, self_service=False)
    await whatsapp_customer(router)
    await Visitor(router, "visitor-1", KNOWN).says("Здравствуйте")
    assert await outbox(router) == []


async def test_an_admins_single_code_text_is_used_in_every_language(store: Store, clock: Clock) -> None:
    router = make_router(store, clock, text="Code {code} for {value}")
    await whatsapp_customer(router)
    await Visitor(router, "visitor-1", KNOWN).says("Hello")
    [sent] = [p for p in await outbox(router) if p.recipient == f"whatsapp:{KNOWN}"]
    assert re.fullmatch(rf"Code \d{{6}} for {re.escape(KNOWN)}", sent.text)


async def test_a_number_several_customers_write_from_gets_no_code(store: Store, clock: Clock) -> None:
    """A family's phone, two profiles (auto_merge off): a code would prove the
    visitor is one of them, not which; so none goes, and the words are the same."""
    router = make_router(store, clock, identity={"phone": {"kinds": ["whatsapp", "sms"], "auto_merge": False}})
    await whatsapp_customer(router)
    await router.on_message(msg("sms", KNOWN, "sms-1", "Это мама, по SMS"))
    visitor = Visitor(router, "visitor-1", KNOWN)
    await visitor.says("Здравствуйте")
    assert [(p.recipient, p.text) for p in await outbox(router)] == [("visitor-1", offer_ru(KNOWN))]


async def test_the_code_goes_to_a_channel_whose_reply_window_is_still_open(router: Router, clock: Clock) -> None:
    """WhatsApp refuses free text 24 h after the customer's last message: the
    code goes by SMS, which the same number wrote from, instead of dying there."""
    router.conversations.reply_windows = {"whatsapp": ReplyWindow(timedelta(hours=24))}
    await router.on_message(msg("sms", KNOWN, "sms-1", "По SMS"))
    clock.advance(3600)
    await whatsapp_customer(router)  # the latest, but a day old when the visitor comes
    clock.advance(25 * 3600)
    await Visitor(router, "visitor-1", KNOWN).says("Здравствуйте")
    assert await codes_to(router, f"whatsapp:{KNOWN}") == []
    assert len(await codes_to(router, KNOWN)) == 1


async def test_a_stranger_typing_a_number_in_chat_after_chat_cannot_flood_its_owner(router: Router,
                                                                                  clock: Clock) -> None:
    """Each new visitor is a new customer with offers of their own: the cap is
    per number. Past it a visitor gets the same words and no code; a day
    later the owner can be sent a code again."""
    await whatsapp_customer(router)
    visitors = [Visitor(router, f"visitor-{n}", KNOWN) for n in range(5)]
    for visitor in visitors[:4]:
        await visitor.says("Здравствуйте")
        clock.advance(60)
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 3
    assert [await v.received() for v in visitors[:4]] == [[offer_ru(KNOWN)]] * 4
    clock.advance(24 * 3600)
    await visitors[4].says("Здравствуйте")
    assert len(await codes_to(router, f"whatsapp:{KNOWN}")) == 4


@pytest.mark.parametrize("says", ["мой номер +79123456789", "+7 912 345-67-89", "my phone is +79123456789"])
async def test_a_message_that_only_gives_a_number_is_answered_by_the_offer_alone(
    store: Store, clock: Clock, tmp_path: Path, says: str
) -> None:
    """The bot found no question in «мой номер +7…» and handed the customer to
    people beside the offer: queued, "a colleague will answer", and the code
    typed a minute later went to a conversation the bot no longer answered."""
    bot = EchoBot()
    router = await with_bot(store, clock, tmp_path, bot)
    assert router.bot_desk is not None
    anna = Visitor(router, "visitor-1")
    await anna.says(says)
    await router.bot_desk.drain()
    assert bot.asked == ["Привет"] and len(await codes_to(router, f"whatsapp:{KNOWN}")) == 1
    [offer] = await anna.received()
    assert KNOWN in offer
    # what they ask next is the bot's, without the number
    await anna.says("где мой заказ?")
    await router.bot_desk.drain()
    assert bot.asked == ["Привет", "где мой заказ?"]
