"""The built-in bot on the shipped config/bot.yaml: phrasings that are not
among its examples, in Russian and English, with typos, translit and Latin
look-alike letters; knowing when to step aside."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.bot import FaqBot, HandoffReason, ReplyKind, load_bot_config
from router.bot.config import BotFile
from router.models import Author, CoreMeta, Customer, Direction, Message
from tests.router.bot.conftest import SHIPPED, T0, turn


def examples(config: BotFile) -> set[str]:
    return {" ".join(t.lower().split()) for i in config.intents for ts in i.examples.values() for t in ts}


UNSEEN = [
    ("сколько дней идет заказ до Самары", "delivery_time"),
    ("цена доставки до двери", "delivery_cost"),
    ("где забрать заказ самостоятельно", "pickup"),
    ("заказ мой где?", "order_status"),  # word order
    ("хочу отменить заказ который сделал вчера", "cancel_order"),
    ("как вернуть куртку, размер не подошел", "returns"),
    ("в субботу работаете?", "opening_hours"),
    ("оплатить картой при получении можно?", "payment"),
    ("how much do you charge for delivery", "delivery_cost"),
    ("how do i send the shoes back", "returns"),
    ("what time do you open on saturday", "opening_hours"),
    ("возврт денег", "returns"),  # typo
    ("атменить заказ", "cancel_order"),  # typo
    ("vozvrat deneg", "returns"),  # translit
    ("gde moi zakaz?", "order_status"),  # translit
    ("oтмeнить зaкaз", "cancel_order"),  # Latin o, e, a inside Russian words
]


@pytest.mark.parametrize(("text", "intent"), UNSEEN)
def test_questions_worded_unlike_any_example_get_the_right_answer(
    faq: FaqBot, shipped: BotFile, text: str, intent: str
) -> None:
    assert " ".join(text.lower().split()) not in examples(shipped)
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.intent) == (ReplyKind.ANSWER, intent), reply
    assert reply.texts and reply.texts[0]


def test_the_answer_is_in_the_customers_language(faq: FaqBot, shipped: BotFile) -> None:
    intent = next(i for i in shipped.intents if i.name == "opening_hours")
    assert faq.decide(turn("в субботу работаете?")).texts == [intent.answer["ru"]]
    assert faq.decide(turn("are you open on saturday?")).texts == [intent.answer["en"]]


def test_answers_use_the_customers_name_and_never_interpret_it(faq: FaqBot) -> None:
    reply = faq.decide(turn("где мой заказ"))
    assert reply.texts[0].startswith("Анна Петрова, статус заказа")
    sly = Customer(id="cus_x", display_name="{tier} {__class__}", attributes={"tier": "gold"}, created_at=T0,
                   updated_at=T0)
    assert faq.decide(turn("где мой заказ", customer=sly)).texts[0].startswith("{tier} {__class__}, статус")
    nobody = Customer(id="cus_y", created_at=T0, updated_at=T0)
    assert faq.decide(turn("where is my order", customer=nobody)).texts[0].startswith("Hello, you can follow")


@pytest.mark.parametrize("text", [
    "оператор", "позовите человека пожалуйста", "соедините с живым человеком", "можно с менеджером поговорить",
    "I want a human", "let me talk to an agent", "real persn please", "OPERATOR!!!", "позавите чиловека",
])
def test_asking_for_a_person_hands_off(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.ASKED_FOR_HUMAN), reply


@pytest.mark.parametrize("text", [
    "погода в Москве какая", "у вас есть вакансии?", "recommend a gaming laptop", "my account was hacked",
    "как подключить телевизор к wifi", "tell me a joke",
])
def test_questions_it_does_not_know_go_to_people(faq: FaqBot, text: str) -> None:
    reply = faq.decide(turn(text))
    assert (reply.kind, reply.reason) == (ReplyKind.HANDOFF, HandoffReason.LOW_CONFIDENCE), reply
    assert reply.detail.startswith("not sure")


def bot_said(reply_record: dict[str, object], n: int = 1) -> list[Message]:
    at = datetime(2026, 3, 2, 10, n, tzinfo=UTC)
    return [
        Message(id=f"m{n}", conversation_id="conv_test", customer_id="cus_anna", direction=Direction.IN,
                author=Author.CUSTOMER, channel="webchat", text="earlier", created_at=at),
        Message(id=f"b{n}", conversation_id="conv_test", customer_id="cus_anna", direction=Direction.OUT,
                author=Author.BOT, channel="webchat", text="…", created_at=at, core=CoreMeta(bot=reply_record)),
    ]


def test_two_close_intents_get_one_clarifying_question_then_a_handoff(faq: FaqBot) -> None:
    first = faq.decide(turn("про доставку"))
    assert first.kind is ReplyKind.CLARIFY, first
    assert {c.intent for c in first.candidates[:2]} == {"delivery_time", "delivery_cost"}
    assert "сроки доставки" in first.texts[0] and "стоимость доставки" in first.texts[0]
    again = faq.decide(turn("про доставку", bot_said(first.record())))
    assert (again.kind, again.reason) == (ReplyKind.HANDOFF, HandoffReason.UNCLEAR)


@pytest.mark.parametrize(("text", "question"), [
    ("доставка", "Уточните, пожалуйста, что вас интересует: 1) {0} или 2) {1}?"),
    ("delivery", "Just to be sure, what would you like to know: 1) {0} or 2) {1}?"),
])
def test_the_clarifying_question_reads_right(faq: FaqBot, shipped: BotFile, text: str, question: str) -> None:
    """The spaces around the configured joiner survive loading: not «доставкиили2)»."""
    reply = faq.decide(turn(text))
    assert reply.kind is ReplyKind.CLARIFY, reply
    titles = {i.name: i.title for i in shipped.intents}
    language = "ru" if text == "доставка" else "en"
    offered = [titles[c.intent][language] for c in reply.candidates[:2]]
    assert reply.texts == [question.format(*offered)]


def test_a_clarifying_question_is_answered_by_number_or_in_words(faq: FaqBot) -> None:
    first = faq.decide(turn("info about delivery"))
    assert first.kind is ReplyKind.CLARIFY, first
    offered = [c.intent for c in first.candidates[:2]]
    assert faq.decide(turn("2", bot_said(first.record()))).intent == offered[1]
    worded = faq.decide(turn("how much does it cost", bot_said(first.record())))
    assert (worded.kind, worded.intent) == (ReplyKind.ANSWER, "delivery_cost")


@pytest.mark.parametrize(("pick", "index"), [
    ("1", 0), ("первое", 0), ("the first", 0), ("2.", 1), ("вариант 2", 1), ("второй вариант", 1), ("2-й", 1),
    ("the second one", 1), ("option 2", 1),
])
def test_a_clarifying_question_is_answered_by_any_way_of_saying_the_number(faq: FaqBot, pick: str, index: int
                                                                           ) -> None:
    """Read as an external bot's numbered buttons are (router.bot.choices): «вариант 2» went to people."""
    first = faq.decide(turn("info about delivery"))
    assert first.kind is ReplyKind.CLARIFY, first
    offered = [c.intent for c in first.candidates[:2]]
    answer = faq.decide(turn(pick, bot_said(first.record())))
    assert (answer.kind, answer.intent) == (ReplyKind.ANSWER, offered[index])


def test_asking_the_same_again_after_an_answer_hands_off(faq: FaqBot) -> None:
    first = faq.decide(turn("как вернуть товар?"))
    assert (first.kind, first.intent) == (ReplyKind.ANSWER, "returns")
    again = faq.decide(turn("так как мне вернуть вещь???", bot_said(first.record())))
    assert (again.kind, again.reason) == (ReplyKind.HANDOFF, HandoffReason.REPEATED)
    other = faq.decide(turn("а как оплатить?", bot_said(first.record())))
    assert (other.kind, other.intent) == (ReplyKind.ANSWER, "payment")


def test_the_shipped_file_is_the_one_tested() -> None:
    assert SHIPPED.exists()


TWINS = """\
matching: {method: lexical}
intents:
  - name: delivery_time
    title: {ru: "сроки доставки", en: delivery times}
    examples:
      ru: ["Сколько дней идет доставка?"]
    answer: {ru: "3-5 дней."}
  - name: delivery_days
    title: {ru: "Сроки  доставки", en: delivery times}
    examples:
      ru: ["Доставка сколько идет дней"]
    answer: {ru: "От 3 до 5 дней."}
  - name: delivery_cost
    title: {ru: "стоимость доставки"}
    examples:
      ru: ["Сколько стоит доставка?"]
    answer: {ru: "300 рублей."}
"""


def test_a_clarifying_question_never_offers_two_options_with_the_same_title(tmp_path: Path) -> None:
    """«1) сроки доставки или 2) сроки доставки?» is no question a customer can
    answer: the intent of another title is offered, or the best one answered."""
    path = tmp_path / "bot.yaml"
    path.write_text(TWINS, encoding="utf-8")
    bot = FaqBot(load_bot_config(path))
    twins = bot.decide(turn("сколько идёт доставка"))
    assert (twins.kind, twins.intent, twins.texts) == (ReplyKind.ANSWER, "delivery_time", ["3-5 дней."]), twins
    vague = bot.decide(turn("доставка"))
    assert vague.texts == ["Уточните, пожалуйста, что вас интересует: 1) стоимость доставки или 2) сроки доставки?"]
    assert [c.intent for c in vague.candidates[:2]] == ["delivery_cost", "delivery_time"]
