"""What an ingest answers (the message, its customer and its conversation,
which the pipeline routes and publishes at once) equals what a read of the
store gives afterwards, on every path an inbound message takes: SQLite's
writer sends them back as rows built into models on the server's side, and
finds, touches and reads back the open conversation in one statement."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.identity.types import ClaimPlan, IdentityPlan, KeyRef, MergeRequest
from router.ingest.store import Ingested
from router.models import ConversationStatus, IdentityRef, InboundMessage, Role
from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import QUEUE, T0


def message(external_id: str, sender: str = "u1", channel: str = "webchat", name: str | None = None,
            replies_to: list[str] | None = None) -> InboundMessage:
    return InboundMessage(channel=channel, external_id=external_id, sender=IdentityRef(kind="webchat", value=sender),
                          text="hi", sender_name=name, replies_to=replies_to or [])


async def as_read(store: Store, got: Ingested, step: str) -> None:
    assert got.customer == await store.get_customer(got.customer.id), step
    assert got.message == await store.get_message(got.message.id), step
    if got.conversation is None:
        return
    read = await store.get_conversation(got.conversation.id)
    answered = got.conversation
    if isinstance(store, PostgresStore) and answered.labels is None:  # PostgreSQL's ingest does not read them
        answered = answered.model_copy(update={"labels": read.labels})
    assert answered == read, step
    assert got.message.conversation_id == read.id, step


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def test_an_ingest_answers_as_a_read_gives_on_every_path(store: Store) -> None:
    tick = Clock()
    got = await store.ingest(message("m1", name="Анна"), tick())
    await as_read(store, got, "a new customer, no conversation yet")
    agent = await store.create_agent("a1", "A One", Role.AGENT, "x")
    route = QUEUE.model_copy(update={"skills": {"ru": 2}, "priority": 3, "preferred_agent_id": agent.id})
    view, _ = await store.attach_to_conversation(got.message.id, got.customer.id, "webchat", route, tick())
    await as_read(store, await store.ingest(message("m2"), tick()), "the same channel")
    await as_read(store, await store.ingest(message("m3", channel="telegram"), tick()), "another channel")
    got = await store.ingest(message("m4", channel="telegram", name="Anna K."), tick())
    await as_read(store, got, "a new name in the same message")
    assert got.conversation is not None and got.conversation.customer_name == "Anna K."
    await store.add_label(view.id, "доставка", tick(), 20)
    await store.add_label(view.id, "VIP", tick(), 20)
    got = await store.ingest(message("m5", channel="telegram"), tick())
    await as_read(store, got, "labels")
    if not isinstance(store, PostgresStore):
        assert got.conversation is not None and got.conversation.labels == ["VIP", "доставка"]
    await store.set_conversation_state(view.id, ConversationStatus.ASSIGNED, agent.id, tick())
    await as_read(store, await store.ingest(message("m6"), tick()), "assigned")
    await store.snooze(view.id, tick() + timedelta(hours=1))
    await as_read(store, await store.ingest(message("m7"), tick()), "snoozed")
    got = await store.ingest(message("m7"), tick())
    assert got.duplicate
    await as_read(store, got, "a redelivery")
    got = await store.ingest(message("x1", sender="u2", replies_to=["m2"], name="Борис"), tick())
    await as_read(store, got, "another customer answering in the thread")
    assert got.conversation is not None and got.conversation.id == view.id
    await as_read(store, await store.ingest(message("x2", sender="u2", replies_to=["nope"]), tick()), "no such thread")
    await store.set_conversation_state(view.id, ConversationStatus.RESOLVED, agent.id, tick())
    got = await store.ingest(message("m8", replies_to=["m2"]), tick())
    await as_read(store, got, "an answer in a resolved thread")
    assert got.conversation is None and got.message.core.follows_conversation == view.id
    second, _ = await store.attach_to_conversation(got.message.id, got.customer.id, "webchat", QUEUE, tick())
    got = await store.ingest(message("m9", replies_to=["m2"]), tick())
    await as_read(store, got, "an answer in a resolved thread while another is open")
    merged = await store.ingest(message("k1", sender="u3", name="C"), tick())
    await store.merge_customers(MergeRequest(survivor_id=got.customer.id, merged_id=merged.customer.id,
                                             source="agent", actor=None, reason="same"), tick())
    got = await store.ingest(message("k2", sender="u3", name="Cee"), tick())
    await as_read(store, got, "an identity whose customer was merged")
    assert got.conversation is not None and got.conversation.id == second.id


async def test_an_ingest_with_an_identity_plan_answers_as_a_read_gives(store: Store) -> None:
    tick = Clock()
    phone = KeyRef("phone", "+79123456789")
    plan = IdentityPlan(identity=IdentityRef(kind="webchat", value="u4"), key=phone, match=True,
                        claims=(ClaimPlan(KeyRef("email", "a@example.com"), "webchat:claimed_email", "A@example.com"),),
                        proven=(ClaimPlan(phone, "platform", "+7 912"),), merge_proven=frozenset({"phone"}))
    got = await store.ingest(message("p1", sender="u4", name="P"), tick(), plan)
    await as_read(store, got, "a plan, new")
    await store.attach_to_conversation(got.message.id, got.customer.id, "webchat", QUEUE, tick())
    await as_read(store, await store.ingest(message("p2", sender="u4", name="P2"), tick(), plan), "a plan, open")
    await as_read(store, await store.ingest(message("p2", sender="u4", name="P3"), tick(), plan), "a plan, redelivery")
