"""Search's part of the store contract (router/search/store.py), on every
backend of tests/router/store/test_contract.py: the same queries find the
same things on SQLite (FTS5) and PostgreSQL (a tsvector and GIN), both over
the terms router.search.terms makes (test_parity_contract.py: what is found how)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from router.models import ConversationStatus, IdentityRef, InboundMessage, Role
from router.search import postgres as search_postgres
from router.search import sqlite as search_sqlite
from router.search.service import Filters, Kind, make_search, statuses_of, write_cursor
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from tests.router.store.test_contract import T0, inbound, ingest

NO_FILTERS = Filters()


async def caught_up(store: Store) -> None:
    """The catch-up indexer run until nothing is left (the service runs it in the background)."""
    while await store.index_for_search(500):
        pass


async def found_messages(store: Store, query: str, filters: Filters = NO_FILTERS) -> list[str]:
    return [hit.message.text for _, hit in (await store.search_messages(
        make_search(Kind.MESSAGES, query, filters, None, 50))).hits]


async def found_conversations(store: Store, query: str | None, filters: Filters = NO_FILTERS) -> list[str]:
    return [c.id for _, c in await store.search_conversations(
        make_search(Kind.CONVERSATIONS, query, filters, None, 50))]


async def test_a_word_finds_its_other_forms_in_russian_and_english(store: Store) -> None:
    await ingest(store, inbound("m1", sender="u1", text="Где мои заказы? Уже неделю жду"))
    await ingest(store, inbound("m2", sender="u2", text="Статус заказов не меняется"))
    await ingest(store, inbound("m3", sender="u3", text="My orders never arrived"))
    await ingest(store, inbound("m4", sender="u4", text="Спасибо, всё пришло"))
    await caught_up(store)
    assert sorted(await found_messages(store, "заказ")) == ["Где мои заказы? Уже неделю жду",
                                                           "Статус заказов не меняется"]
    assert await found_messages(store, "ЗАКАЗАМИ") == ["Статус заказов не меняется", "Где мои заказы? Уже неделю жду"]
    assert await found_messages(store, "order") == ["My orders never arrived"]
    assert await found_messages(store, "ordered arrive") == ["My orders never arrived"]
    # words too common to search by are left out of a query, on both backends alike
    assert await found_messages(store, "где же мои заказы") == ["Где мои заказы? Уже неделю жду"]
    assert await found_messages(store, "the orders") == ["My orders never arrived"]
    # every word must be there
    assert await found_messages(store, "заказ спасибо") == []
    assert await found_messages(store, "доставка") == []


async def test_customers_are_found_by_name_phone_email_and_any_identity(store: Store) -> None:
    phone = IdentityRef(kind="phone", value="+79161234567")
    await store.insert_inbound(InboundMessage(channel="sms", external_id="s1", sender=phone, text="hi"), T0)
    ivan = await store.resolve_identity(phone, "Иван Петров", T0)
    email = IdentityRef(kind="email", value="anna.smith@example.com")
    anna = await store.resolve_identity(email, "Anna Smith", T0)
    tg = IdentityRef(kind="telegram", value="555000777")
    other = await store.resolve_identity(tg, None, T0)
    await caught_up(store)

    async def customers(query: str) -> list[str]:
        return [c.id for _, c in await store.search_customers(make_search(Kind.CUSTOMERS, query, Filters(), None, 10))]

    assert await customers("Иван") == [ivan.id]
    assert await customers("петр") == [ivan.id]  # a prefix of a name
    assert await customers("8 (916) 123-45-67") == [ivan.id]
    assert await customers("+7 916 1234567") == [ivan.id]
    assert await customers("anna.smith@example.com") == [anna.id]
    assert await customers("smith") == [anna.id]
    assert await customers("555000777") == [other.id]
    assert await customers("Мария") == []
    # one or two letters match a whole word, not the start of nearly every name
    assert await customers("an") == []  # not Anna
    assert await customers("ann") == [anna.id]
    hit = (await store.search_customers(make_search(Kind.CUSTOMERS, "иван", Filters(), None, 10)))[0][1]
    assert hit.identities == [phone] and hit.display_name == "Иван Петров"
    # a name given later is found once the indexer has seen it
    await store.resolve_identity(tg, "Мария", T0)
    await caught_up(store)
    assert await customers("Мария") == [other.id]


async def test_a_conversation_is_found_by_its_customer(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1", sender="u1", text="привет"))
    customer = (await store.get_conversation(conv)).customer_id
    await store.resolve_identity(IdentityRef(kind="webchat", value="u1"), "Ольга Сидорова", T0)
    await ingest(store, inbound("m2", sender="u2", text="привет"))
    await caught_up(store)
    assert await found_conversations(store, "сидорова") == [conv]
    assert (await store.get_conversation(conv)).customer_id == customer


async def test_filters_narrow_messages_and_conversations(store: Store) -> None:
    _, queued = await ingest(store, inbound("m1", sender="u1", text="заказ один", channel="webchat"))
    _, mine = await ingest(store, inbound("m2", sender="u2", text="заказ два", channel="telegram"),
                           T0 + timedelta(hours=2))
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    await store.set_conversation_state(mine, ConversationStatus.ASSIGNED, agent.id, T0)
    await store.add_label(queued, "VIP", T0, 20)
    await caught_up(store)
    assert await found_messages(store, "заказ", Filters(channel="telegram")) == ["заказ два"]
    assert await found_messages(store, "заказ", Filters(statuses=statuses_of("queued"))) == ["заказ один"]
    assert await found_messages(store, "заказ", Filters(assignee=agent.id)) == ["заказ два"]
    assert await found_messages(store, "заказ", Filters(assignee="")) == ["заказ один"]
    assert await found_messages(store, "заказ", Filters(label="VIP")) == ["заказ один"]
    assert await found_messages(store, "заказ", Filters(team="support", since=T0 + timedelta(hours=1))) == \
        ["заказ два"]
    assert await found_messages(store, "заказ", Filters(until=T0 + timedelta(hours=1))) == ["заказ один"]
    assert await found_messages(store, "заказ", Filters(team="sales")) == []
    # a view: conversations by filters alone, newest first
    assert await found_conversations(store, None) == [mine, queued]
    assert await found_conversations(store, None, Filters(label="VIP", statuses=statuses_of("open"))) == [queued]
    assert await found_conversations(store, None, Filters(statuses=statuses_of("resolved"))) == []


async def test_pages_follow_on_by_cursor_whatever_is_added_meanwhile(store: Store) -> None:
    for n in range(5):
        await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=f"заказ номер {n}"))
    await caught_up(store)
    first = (await store.search_messages(make_search(Kind.MESSAGES, "заказ", Filters(), None, 2))).hits
    assert [h.message.text for _, h in first] == ["заказ номер 4", "заказ номер 3"]
    # new messages come in between two pages: the next page goes on where the first ended
    for n in range(5, 8):
        await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=f"заказ номер {n}"))
    await caught_up(store)
    cursor = write_cursor(Kind.MESSAGES, first[-1][0])
    second = (await store.search_messages(make_search(Kind.MESSAGES, "заказ", Filters(), cursor, 2))).hits
    assert [h.message.text for _, h in second] == ["заказ номер 2", "заказ номер 1"]
    third = (await store.search_messages(make_search(Kind.MESSAGES, "заказ", Filters(),
                                                     write_cursor(Kind.MESSAGES, second[-1][0]), 2))).hits
    assert [h.message.text for _, h in third] == ["заказ номер 0"]
    views = await store.search_conversations(make_search(Kind.CONVERSATIONS, None, Filters(), None, 3))
    rest = await store.search_conversations(make_search(Kind.CONVERSATIONS, None, Filters(),
                                                        write_cursor(Kind.CONVERSATIONS, views[-1][0]), 10))
    assert len(views) == 3 and len(rest) == 5 and not {c.id for _, c in views} & {c.id for _, c in rest}


async def test_labels_are_added_listed_and_removed(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1"))
    view = await store.add_label(conv, "доставка", T0, 20)
    assert view.labels == ["доставка"]
    view = await store.add_label(conv, "VIP", T0, 20)
    assert view.labels == sorted(["VIP", "доставка"])
    assert (await store.add_label(conv, "VIP", T0, 20)).labels == view.labels  # already there: nothing changes
    assert (await store.get_conversation(conv)).labels == view.labels
    assert [c.labels for c in await store.list_conversations(None, 10)] == [view.labels]
    assert [label.name for label in await store.list_labels()] == sorted(["VIP", "доставка"])
    assert await store.labels_exist(["VIP", "nope"]) == ["VIP"]
    with pytest.raises(ConflictError):
        await store.add_label(conv, "third", T0, 2)
    assert (await store.remove_label(conv, "VIP")).labels == ["доставка"]
    with pytest.raises(NotFound):
        await store.remove_label(conv, "VIP")
    with pytest.raises(NotFound):
        await store.add_label("conv_missing", "VIP", T0, 20)
    # the label stays known when no conversation has it (a filter by it finds nothing),
    # but the list offers only labels in use: it does not grow with every name ever typed
    assert await store.labels_exist(["VIP"]) == ["VIP"]
    assert [label.name for label in await store.list_labels()] == ["доставка"]


async def test_a_snoozed_conversation_wakes_when_due_and_once(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1", sender="u1"))
    _, later = await ingest(store, inbound("m2", sender="u2"))
    view = await store.snooze(conv, T0 + timedelta(hours=1))
    assert view.snoozed_until == T0 + timedelta(hours=1)
    await store.snooze(later, T0 + timedelta(hours=3))
    assert await store.next_wake() == T0 + timedelta(hours=1)
    assert await found_conversations(store, None, Filters(snoozed=True)) == [later, conv]
    assert await found_conversations(store, None, Filters(snoozed=False)) == []
    assert await store.wake_due(T0 + timedelta(minutes=59), 10) == []
    woken = await store.wake_due(T0 + timedelta(hours=1), 10)
    assert [c.id for c in woken] == [conv] and woken[0].snoozed_until is None
    assert await store.wake_due(T0 + timedelta(hours=1), 10) == []  # woken once
    assert await store.next_wake() == T0 + timedelta(hours=3)
    # woken early (the customer wrote): None the second time
    assert (await store.wake(later)) is not None
    assert await store.wake(later) is None
    assert await store.next_wake() is None


async def test_a_resolved_conversation_cannot_be_snoozed(store: Store) -> None:
    _, conv = await ingest(store, inbound("m1"))
    await store.set_conversation_state(conv, ConversationStatus.RESOLVED, None, T0)
    with pytest.raises(ConflictError):
        await store.snooze(conv, T0 + timedelta(hours=1))
    with pytest.raises(NotFound):
        await store.snooze("conv_missing", T0 + timedelta(hours=1))


async def test_messages_are_indexed_once_each_and_in_order(store: Store) -> None:
    await ingest(store, inbound("m1", text="первый заказ"))
    await caught_up(store)
    assert await store.index_for_search(500) == 0
    await ingest(store, inbound("m2", text="второй заказ"))
    await caught_up(store)
    assert await found_messages(store, "заказ") == ["второй заказ", "первый заказ"]


async def test_two_sweeps_at_once_wake_each_conversation_once(store: Store) -> None:
    # two nodes' sweeps (a leader that lost its lead and the next one) never announce a wake twice
    ids = []
    for n in range(6):
        _, conv = await ingest(store, inbound(f"m{n}", sender=f"u{n}"))
        await store.snooze(conv, T0 + timedelta(minutes=n))
        ids.append(conv)
    first, second = await asyncio.gather(store.wake_due(T0 + timedelta(hours=1), 100),
                                         store.wake_due(T0 + timedelta(hours=1), 100))
    woken = [c.id for c in first + second]
    assert sorted(woken) == sorted(ids)


async def test_a_page_looks_at_a_bounded_number_of_matches_and_says_where_to_go_on(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # filters that let few matches through cost a page a bounded look, not the whole index
    monkeypatch.setattr(search_sqlite, "CANDIDATES", 2)
    monkeypatch.setattr(search_postgres, "CANDIDATES", 2)
    convs = [(await ingest(store, inbound(f"m{n}", sender=f"u{n}", text=f"заказ {n}")))[1] for n in range(5)]
    await store.add_label(convs[0], "VIP", T0, 20)
    await caught_up(store)
    found, pages, cursor = [], 0, None
    while True:
        page = await store.search_messages(make_search(Kind.MESSAGES, "заказ", Filters(label="VIP"), cursor, 10))
        found += [h.message.text for _, h in page.hits]
        pages += 1
        if page.resume is None:
            break
        cursor = write_cursor(Kind.MESSAGES, page.resume)
    assert found == ["заказ 0"] and pages == 3


async def test_numbers_in_messages_are_found_however_they_are_typed_on_both_backends(store: Store) -> None:
    # a customer's phone rule (one term of the last 10 digits) is for customers only:
    # in messages a number is searched by the words it is indexed by
    await ingest(store, inbound("m1", sender="u1", text="Звоните 8 916 123-45-67 после обеда"))
    await ingest(store, inbound("m2", sender="u2", text="Трек-номер 80085412345678, доставка 05.12.2024"))
    await ingest(store, inbound("m3", sender="u3", text="Заказ 12345 готов"))
    await caught_up(store)
    assert await found_messages(store, "8 916 123-45-67") == ["Звоните 8 916 123-45-67 после обеда"]
    assert await found_messages(store, "80085412345678") == ["Трек-номер 80085412345678, доставка 05.12.2024"]
    assert await found_messages(store, "05.12.2024") == ["Трек-номер 80085412345678, доставка 05.12.2024"]
    assert await found_messages(store, "12345") == ["Заказ 12345 готов"]


async def test_the_list_leaves_snoozed_ones_out_before_its_limit_and_resolving_ends_a_snooze(store: Store) -> None:
    convs = [(await ingest(store, inbound(f"m{i}", sender=f"u{i}"), T0 + timedelta(minutes=i)))[1] for i in range(4)]
    newest_first = convs[::-1]
    for conv in newest_first[:2]:
        await store.snooze(conv, T0 + timedelta(hours=1))
    # a page of two is full of awake ones: the snoozed newest are left out in the query, not after it
    assert [c.id for c in await store.list_conversations(None, 2, awake_only=True)] == newest_first[2:]
    assert [c.id for c in await store.list_conversations(None, 2)] == newest_first[:2]
    resolved = await store.set_conversation_state(newest_first[0], ConversationStatus.RESOLVED, None, T0)
    assert resolved.snoozed_until is None  # resolving ends the snooze: it is no longer due to come back
    assert [c.id for c in await store.list_conversations(None, 10, awake_only=True)] == [
        newest_first[0], *newest_first[2:]]


async def test_a_view_by_status_pages_through_every_status_newest_first(store: Store) -> None:
    """A view of several statuses takes each status's newest and merges them: its pages
    follow on by cursor across the statuses, none lost, none twice, the others' left out."""
    agent = await store.create_agent("ann", "Ann", Role.AGENT, "x")
    made: list[tuple[str, ConversationStatus]] = []
    states = [ConversationStatus.QUEUED, ConversationStatus.ASSIGNED, ConversationStatus.RESOLVED,
              ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED,
              ConversationStatus.RESOLVED, ConversationStatus.QUEUED]
    for n, status in enumerate(states):
        _, conv = await ingest(store, inbound(f"v{n}", sender=f"w{n}", text=f"view {n}"), T0 + timedelta(minutes=n))
        await store.set_conversation_state(conv, status, agent.id if status is ConversationStatus.ASSIGNED else None,
                                           T0 + timedelta(minutes=n))
        made.append((conv, status))
    newest_open = [conv for conv, status in reversed(made) if status is not ConversationStatus.RESOLVED]
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.search_conversations(make_search(Kind.CONVERSATIONS, None,
                                                            Filters(statuses=statuses_of("open")), cursor, 2))
        seen += [c.id for _, c in page]
        if len(page) < 2:
            break
        cursor = write_cursor(Kind.CONVERSATIONS, page[-1][0])
    assert seen == newest_open
    # the other filters narrow each status's walk: the assigned ones of nobody are none
    assert await found_conversations(store, None, Filters(statuses=statuses_of("open"), assignee="")) == \
        [conv for conv in newest_open if dict(made)[conv] is not ConversationStatus.ASSIGNED]
    assert await found_conversations(store, None, Filters(statuses=statuses_of("resolved"))) == \
        [conv for conv, status in reversed(made) if status is ConversationStatus.RESOLVED]
