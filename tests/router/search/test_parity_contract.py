"""What a search finds, as one contract on every backend of
tests/router/store/test_contract.py: the same query finds the same messages
and customers on SQLite and PostgreSQL, however the words, emails, URLs,
phone numbers, dates and codes in them were typed (README, «Search»)."""

from __future__ import annotations

import pytest

from router.models import IdentityRef
from router.search.service import Filters, Kind, make_search
from router.store.base import Store
from tests.router.search.test_store_contract import caught_up, found_messages
from tests.router.store.test_contract import T0, inbound, ingest

ORDERS_RU = "Где мои заказы? Жду уже неделю"
ORDERS_RU_2 = "Статус заказов не меняется"
ORDERS_EN = "My orders never arrived"
ORDER_EN = "The order was shipped"
YO = "Ёлочные игрушки пришли разбитыми"
ACCENTS = "Взяли Crème brûlée в Café Noir"
EMAIL = "Пишите на anna.smith@example.com"
EMAIL_2 = "Копия ivan_petrov@mail.ru"
URL = "Форма тут: https://shop.tovary.ru/returns/77?ref=chat"
PHONE = "Позвоните мне: +7 (916) 123-45-67"
PHONE_2 = "Мой домашний 8-495-765-43-21"
DATE = "Доставка назначена на 05.12.2026"
DATE_2 = "Delivery moved to 2026-12-07"
CODE = "Заявка A-1234 потерялась"
CODE_2 = "ticket B5678 closed"
LOOKALIKE_RU = "Курьер oпoздал на час"  # the o's are Latin
LOOKALIKE_EN = "Where is my рackage"  # the р is Cyrillic
SHOUTED = "СРОЧНО нужен ВОЗВРАТ"
NUMBER = "Счёт 100097 оплачен"
PHONE_COUNT = "Позвоните +7 903 555-12-34 2 раза"
TWO_PHONES = "Мобильный 8 903 111-22-33 8 812 444-55-66"
PHONE_UK = "London office +44 20 7946 0958, ask for Mary"
ORDER_PHONE = "Чек 4455667 89057778899 перезвоните"
CODE_RU = "Заявка Е-4321 от клиента"  # the Е is Cyrillic
PLATE = "Машина А123ВС 77 у входа"  # Cyrillic letters
COP_LATIN = "cop"
COP_CYRILLIC = "сор"  # Cyrillic letters
UKRAINIAN = "Доставка у Київ завтра"
BELARUSIAN = "Пасылка ў Мінск прыйшла"
KAZAKH = "Қала Алматы"
TURKISH = "Sipariş ulaşmadı"
# words a hand-made array literal ({a,b}) took for something else: null as a NULL, quotes, backslashes, braces, commas
NULL = "null"
NULLS = "NULL value, \"quoted\" {braces} back\\slash, comma"

CORPUS = [ORDERS_RU, ORDERS_RU_2, ORDERS_EN, ORDER_EN, YO, ACCENTS, EMAIL, EMAIL_2, URL, PHONE, PHONE_2, DATE,
          DATE_2, CODE, CODE_2, LOOKALIKE_RU, LOOKALIKE_EN, SHOUTED, NUMBER, NULL, NULLS,
          PHONE_COUNT, TWO_PHONES, PHONE_UK, ORDER_PHONE, CODE_RU, PLATE, COP_LATIN, COP_CYRILLIC, UKRAINIAN,
          BELARUSIAN, KAZAKH, TURKISH]

# (query, the messages it finds), by what people type
MESSAGE_CASES: dict[str, list[tuple[str, set[str]]]] = {
    "word forms": [
        ("заказ", {ORDERS_RU, ORDERS_RU_2}), ("ЗАКАЗАМИ", {ORDERS_RU, ORDERS_RU_2}),
        ("order", {ORDERS_EN, ORDER_EN}), ("ordered", {ORDERS_EN, ORDER_EN}), ("arrive orders", {ORDERS_EN}),
        ("где же мои заказы", {ORDERS_RU}),  # the stop words left out
        ("заказ спасибо", set()),
    ],
    "ё as е": [("елочные", {YO}), ("ЁЛОЧНАЯ", {YO}), ("счет", {NUMBER}), ("счёт", {NUMBER})],
    "accents": [("creme brulee", {ACCENTS}), ("café", {ACCENTS}), ("CAFE noir", {ACCENTS}), ("brûlée", {ACCENTS})],
    "emails": [
        ("anna.smith@example.com", {EMAIL}), ("anna.smith", {EMAIL}), ("anna", {EMAIL}), ("example.com", {EMAIL}),
        ("ivan_petrov@mail.ru", {EMAIL_2}), ("ivan_petrov", {EMAIL_2}), ("mail.ru", {EMAIL_2}),
        ("anna.smith@mail.ru", set()),
    ],
    "URLs and domains": [
        ("https://shop.tovary.ru/returns/77", {URL}), ("shop.tovary.ru", {URL}), ("tovary.ru", {URL}),
        ("returns", {URL}),
    ],
    "phone numbers typed any way": [
        ("+79161234567", {PHONE}), ("8 916 123 45 67", {PHONE}), ("8(916)123-45-67", {PHONE}),
        ("916-123-45-67", {PHONE}), ("9161234567", {PHONE}), ("123-45-67", {PHONE}),
        ("+7 495 765 43 21", {PHONE_2}), ("84957654321", {PHONE_2}), ("+7 916 765-43-21", set()),
    ],
    "phone numbers among other numbers": [
        ("+7 903 555-12-34", {PHONE_COUNT}), ("89035551234", {PHONE_COUNT}),
        ("8 903 111 22 33", {TWO_PHONES}), ("+7 812 444-55-66", {TWO_PHONES}), ("444-55-66", {TWO_PHONES}),
        ("+44 20 7946 0958", {PHONE_UK}), ("020 7946 0958", {PHONE_UK}),
        ("+7 905 777-88-99", {ORDER_PHONE}), ("4455667", {ORDER_PHONE}),
    ],
    "dates": [
        ("05.12.2026", {DATE}), ("5.12.2026", {DATE}), ("2026-12-05", {DATE}), ("05/12/2026", {DATE}),
        ("07.12.2026", {DATE_2}), ("2026-12-07", {DATE_2}), ("06.12.2026", set()),
    ],
    "numbers and codes": [
        ("A-1234", {CODE}), ("a1234", {CODE}), ("A 1234", {CODE}), ("1234", {CODE}), ("b-5678", {CODE_2}),
        ("B5678", {CODE_2}), ("5678", {CODE_2}), ("A-5678", set()), ("100097", {NUMBER}),
    ],
    "codes typed on either keyboard": [
        ("E-4321", {CODE_RU}), ("е-4321", {CODE_RU}), ("e4321", {CODE_RU}),
        ("A123BC", {PLATE}), ("а123вс", {PLATE}), ("А123ВС", {PLATE}),
        ("cop", {COP_LATIN}), ("сор", {COP_CYRILLIC}),  # words, not codes: each in its own script
    ],
    "words of other alphabets whole": [
        ("Київ", {UKRAINIAN}), ("киів", {UKRAINIAN}), ("ки", set()), ("Мінск", {BELARUSIAN}), ("нск", set()),
        ("ҚАЛА", {KAZAKH}), ("ала", set()), ("ulaşmadı", {TURKISH}), ("ulasmad", set()),
    ],
    "look-alike letters": [
        ("опоздал", {LOOKALIKE_RU}), ("oпoздал", {LOOKALIKE_RU}), ("package", {LOOKALIKE_EN}),
        ("рackage", {LOOKALIKE_EN}),
    ],
    "mixed case": [("срочно", {SHOUTED}), ("Возврат", {SHOUTED}), ("ВоЗвРаТ СрОчНо", {SHOUTED})],
    "words that are SQL's or an array's syntax": [
        ("null", {NULL, NULLS}), ("NULL", {NULL, NULLS}), ('"quoted"', {NULLS}), ("{braces}", {NULLS}),
        ("back\\slash", {NULLS}), ("comma", {NULLS}), ("value", {NULLS}),
    ],
    "no prefix search in messages": [("заказ", {ORDERS_RU, ORDERS_RU_2}), ("зака", set()), ("ord", set())],
}


@pytest.fixture
async def corpus(store: Store) -> Store:
    for n, text in enumerate(CORPUS):
        await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=text))
    await caught_up(store)
    return store


@pytest.mark.parametrize("kind", sorted(MESSAGE_CASES))
async def test_messages_are_found_however_their_words_were_typed(corpus: Store, kind: str) -> None:
    found = {query: set(await found_messages(corpus, query)) for query, _ in MESSAGE_CASES[kind]}
    assert found == dict(MESSAGE_CASES[kind])


async def test_customers_are_found_by_any_form_of_name_phone_or_email(store: Store) -> None:
    ivan = await store.resolve_identity(IdentityRef(kind="phone", value="+79161234567"), "Иван Петров", T0)
    petr = await store.resolve_identity(IdentityRef(kind="telegram", value="42"), "Пётр Семёнов", T0)
    jose = await store.resolve_identity(IdentityRef(kind="email", value="jose.nunez@example.es"), "José Núñez", T0)
    anna = await store.resolve_identity(IdentityRef(kind="email", value="anna.smith@example.com"), "Anna Smith", T0)
    await caught_up(store)

    async def customers(query: str) -> set[str]:
        return {c.id for _, c in await store.search_customers(make_search(Kind.CUSTOMERS, query, Filters(), None, 10))}

    cases = {
        "петр": {ivan.id, petr.id},  # a prefix: Петров, and Пётр
        "Семенов": {petr.id}, "СЕМЁНОВ": {petr.id}, "пётр семёнов": {petr.id},
        "jose": {jose.id}, "Núñez": {jose.id}, "nunez": {jose.id}, "NUÑ": {jose.id},
        "8 (916) 123-45-67": {ivan.id}, "+7 916 1234567": {ivan.id}, "123-45-67": {ivan.id},
        "anna.smith@example.com": {anna.id}, "anna.smith": {anna.id}, "ann": {anna.id},
        "example": {jose.id, anna.id}, "example.com": {anna.id},
        "Мария": set(),
    }
    assert {query: await customers(query) for query in cases} == cases
    # a conversation is found by its customer's terms, made the same way
    _, conversation_id = await ingest(store, inbound("c1", sender="Zoë-Ærø", text="hi"))
    await caught_up(store)
    for query in ("zoe", "ZOË", "zoe-ærø"):
        views = await store.search_conversations(make_search(Kind.CONVERSATIONS, query, Filters(), None, 10))
        assert [v.id for _, v in views] == [conversation_id], query
