"""Threads and machines' messages in the ingest pipeline: an answer joins the
conversation of the message it replies to (``replies_to``), and an automated
message never opens, routes or answers anything. Real SQLite store and bus."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.bus import EventBus
from router.config import RoutingConfig
from router.core import Router
from router.metrics import Metrics
from router.models import Agent, ConversationStatus, IdentityRef, InboundMessage, Role
from router.routing.decide import DefaultTeamRouting
from router.store.sqlite import SQLiteStore


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    async with SQLiteStore(tmp_path / "threads.db") as store:
        yield Router(store, EventBus(), DefaultTeamRouting(RoutingConfig(default_team="support")), Metrics())


@pytest.fixture
async def agent(router: Router) -> Agent:
    return await router.store.create_agent("ann", "Ann", Role.AGENT, "x")


def mail(external_id: str, sender: str = "anna@example.com", *, replies_to: list[str] | None = None,
         automated: str | None = None, thread: dict[str, str] | None = None) -> InboundMessage:
    return InboundMessage(
        channel="mail", external_id=external_id, sender=IdentityRef(kind="email", value=sender), text="text",
        replies_to=replies_to or [], automated=automated, thread=thread or {},
    )


async def _sent_reply(router: Router, agent: Agent, conversation_id: str, external_id: str) -> None:
    await router.conversations.reply(conversation_id, agent, "Ответ")
    [entry] = await router.store.pending_outbox(10)
    await router.store.outbox_sent(entry.id, external_id, router.clock())


async def test_a_reply_carries_the_thread_data_of_the_message_it_answers(router: Router, agent: Agent) -> None:
    first = await router.on_message(mail("m1@x", thread={"message_id": "m1@x", "subject": "Заказ"}))
    await router.conversations.reply(first.conversation_id or "", agent, "Ответ")
    [entry] = await router.store.pending_outbox(10)
    assert entry.payload.thread == {"message_id": "m1@x", "subject": "Заказ"}


async def test_an_answer_from_another_address_joins_the_thread_it_replies_to(router: Router, agent: Agent) -> None:
    first = await router.on_message(mail("m1@x"))
    await _sent_reply(router, agent, first.conversation_id or "", "our-1@omni")
    # a colleague of the customer answers our mail from their own address
    other = await router.on_message(mail("m2@y", "boris@example.com", replies_to=["nobody@z", "our-1@omni"]))
    assert other.conversation_id == first.conversation_id
    unrelated = await router.on_message(mail("m3@y", "boris@example.com"))
    assert unrelated.conversation_id != first.conversation_id


async def test_an_answer_to_a_resolved_thread_opens_a_new_conversation_linked_to_it(
    router: Router, agent: Agent
) -> None:
    first = await router.on_message(mail("m1@x"))
    await router.conversations.resolve(first.conversation_id or "", agent)
    again = await router.on_message(mail("m2@x", replies_to=["m1@x"]))
    assert again.conversation_id not in (None, first.conversation_id)
    [stored] = await router.store.list_messages(again.conversation_id or "", 10)
    assert stored.core.follows_conversation == first.conversation_id


async def test_an_automated_message_never_opens_a_conversation_nor_is_resumed(router: Router) -> None:
    accepted = await router.on_message(mail("ooo@x", automated="auto-reply (Auto-Submitted: auto-replied)"))
    assert accepted.conversation_id is None and not accepted.duplicate
    assert await router.store.count_conversations() == {s: 0 for s in ConversationStatus}
    assert await router.ingest.resume() == 0
    again = await router.on_message(mail("ooo@x", automated="auto-reply"))
    assert again.duplicate and again.message_id == accepted.message_id


async def test_an_automated_answer_is_shown_in_its_thread_without_rerouting_it(router: Router, agent: Agent) -> None:
    first = await router.on_message(mail("m1@x"))
    await _sent_reply(router, agent, first.conversation_id or "", "our-1@omni")
    before = await router.store.get_conversation(first.conversation_id or "")
    bounce = await router.on_message(mail("dsn@mx", "mailer-daemon@mx.example.com", replies_to=["our-1@omni"],
                                          automated="delivery report"))
    assert bounce.conversation_id == first.conversation_id
    after = await router.store.get_conversation(first.conversation_id or "")
    assert (after.status, after.agent_id, after.customer_id) == (before.status, before.agent_id, before.customer_id)
    messages = await router.store.list_messages(first.conversation_id or "", 10)
    dsn = next(m for m in messages if m.id == bounce.message_id)
    assert dsn.core.automated == "delivery report" and dsn.customer_id == before.customer_id
    # the mailer daemon became nobody's profile
    assert await router.store.find_identity(IdentityRef(kind="email", value="mailer-daemon@mx.example.com")) is None


async def test_an_automated_message_is_logged_without_the_senders_words(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """An auto-reply's reason may quote its sender ("X-Autoreply: ..."): INFO names the header only."""
    caplog.set_level(logging.INFO, logger="router.ingest.service")
    await router.on_message(mail("ooo@x", automated="X-Autoreply: в отпуске до 12 января, звоните Ивану"))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("automated message")]
    assert "(X-Autoreply)" in line and "отпуске" not in caplog.text
