"""The store's contract for keys a platform proves are the sender's own
(``IdentityPlan.proven``: a Telegram contact of the sender's own account),
on every backend."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from router.identity.types import ClaimPlan, IdentityPlan, KeyRef, MergeRequest
from router.ingest.store import Ingested
from router.models import Author, CoreMeta, Delivery, Direction, IdentityRef, Message, OutboundMessage, new_id
from router.store.base import Store
from tests.router.identity.test_store_contract import PHONE, _all_rows, _differences, keyed, keyed_inbound
from tests.router.store.test_contract import QUEUE, T0

PROOF = ClaimPlan(PHONE, "telegram:proven_phone", "+79123456789")
_n = iter(range(1, 10_000))


def telegram(user: str = "5551234", *proven: ClaimPlan, cap: int = 3, merge: bool = True) -> IdentityPlan:
    return IdentityPlan(identity=IdentityRef(kind="telegram", value=user), max_profiles=cap, proven=proven,
                        merge_proven=frozenset({"phone"} if merge else ()))


async def writes(store: Store, plan: IdentityPlan, at: datetime, external_id: str | None = None) -> Ingested:
    """A message from ``plan``'s identity, in a conversation (opened when it has none)."""
    msg = keyed_inbound(plan, external_id or f"m{next(_n)}")
    step = await store.ingest(msg, at, plan)
    if step.conversation is None:
        view, _ = await store.attach_to_conversation(step.message.id, step.customer.id, msg.channel, QUEUE, at)
        step = dataclasses.replace(step, conversation=view)
    return step


async def test_a_proven_phone_keys_the_identity_and_verifies_the_claim_once(store: Store) -> None:
    first = await writes(store, telegram(), T0)
    contact = await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=1), "contact-1")
    assert contact.customer.id == first.customer.id  # nobody else has the phone: nothing to merge
    [identity] = await store.customer_identities(first.customer.id)
    assert identity.key == "phone:+79123456789" and identity.verified
    [claim] = await store.customer_claims(first.customer.id)
    assert (claim.kind, claim.value, claim.source) == ("phone", PHONE.value, "telegram:proven_phone")
    assert claim.verified_at is not None and claim.message_id == contact.message.id
    [audit] = await store.identity_audit(first.customer.id, 10)
    assert (audit.action, audit.source) == ("link", "platform") and "proven by the platform" in audit.reason
    # a redelivered update, and the same contact shared again: nothing new to record
    again = await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=2), "contact-1")
    assert again.duplicate
    await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=3))
    assert len(await store.identity_audit(first.customer.id, 10)) == 1
    assert len(await store.customer_claims(first.customer.id)) == 1
    # a code for that phone can go to this chat now
    assert [m.id for m in await store.key_contacts(PHONE, 10)][-1] == first.message.id


async def test_an_earlier_typed_claim_of_the_phone_becomes_verified(store: Store) -> None:
    typed = dataclasses.replace(telegram(), claims=(ClaimPlan(PHONE, "telegram:text", "8 912 345-67-89"),))
    first = await writes(store, typed, T0)
    [claim] = await store.customer_claims(first.customer.id)
    assert claim.verified_at is None
    await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=1))
    [claim] = await store.customer_claims(first.customer.id)
    assert claim.verified_at is not None and claim.source == "telegram:text"


async def test_the_proof_merges_into_the_phones_owner_and_unmerge_undoes_exactly_that(store: Store) -> None:
    wa = await writes(store, keyed("whatsapp", PHONE.value), T0)
    tg = await writes(store, telegram(), T0 + timedelta(minutes=5))
    owner, merged = wa.customer.id, tg.customer.id
    assert owner != merged
    rows_before = await _all_rows(store, owner, merged)

    contact = await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=6))
    assert contact.customer.id == owner
    assert contact.conversation is not None and contact.conversation.id == wa.conversation.id
    [record] = await store.customer_merges(owner)
    assert (record.source, record.survivor_id, record.merged_id) == ("platform", owner, merged)
    linked = {i.ref.kind: i for i in await store.customer_identities(owner)}
    assert linked["telegram"].verified and linked["telegram"].source == "platform"
    assert linked["telegram"].key == linked["whatsapp"].key == "phone:+79123456789"
    # one customer, one open conversation holding both channels' messages
    texts = [m.channel for m in await store.list_messages(wa.conversation.id, 10)]
    assert texts == ["whatsapp", "telegram", "telegram"]

    await store.unmerge_customers(record.id, "agt_1", "not the same person", T0 + timedelta(hours=1))
    assert (await store.find_identity(IdentityRef(kind="telegram", value="5551234"))).id == merged
    # what differs from before the contact is the contact itself and the proof it
    # brought, both back with the Telegram customer; the merge left no trace
    left = {(t, row, col) for t, row, col, _, _ in _differences(rows_before, await _all_rows(store, owner, merged))}
    claim = (await store.customer_claims(merged))[0]
    proof = {("identities", "telegram:5551234", c) for c in ("key_kind", "key_value", "link_reason")}
    assert proof <= left
    assert {(t, row) for t, row, _ in left - proof} == {
        ("messages", contact.message.id), ("identity_claims", claim.id), ("conversations", tg.conversation.id),
        ("conversations", wa.conversation.id),
    }
    # the WhatsApp conversation is as it was (summed up again, so touched); the
    # Telegram one holds the contact, its latest message
    assert {c for t, row, c in left if row == wa.conversation.id} == {"updated_at"}
    assert {c for t, row, c in left if row == tg.conversation.id} == {"last_message_at", "updated_at"}
    assert (await store.get_message(contact.message.id)).customer_id == merged
    assert (await store.get_customer(owner)).merged_into is None


async def test_a_later_identity_with_the_proven_phone_joins_the_telegram_customer(store: Store) -> None:
    tg = await writes(store, telegram("5551234", PROOF), T0)
    sms = await writes(store, keyed("sms", PHONE.value), T0 + timedelta(minutes=1))
    assert sms.customer.id == tg.customer.id
    # without auto_merge it stays apart, as for any key
    wa = await writes(store, keyed("whatsapp", PHONE.value, match=False), T0 + timedelta(minutes=2))
    assert wa.customer.id != tg.customer.id


async def test_a_phone_shared_by_too_many_profiles_merges_nobody(store: Store) -> None:
    wa = await writes(store, keyed("whatsapp", PHONE.value, cap=1), T0)
    other = keyed("webchat", "visitor-1", key=None, cap=1, claims=(ClaimPlan(PHONE, "webchat:text", "8912"),))
    await writes(store, other, T0)
    tg = await writes(store, telegram("5551234", PROOF, cap=1), T0 + timedelta(minutes=1))
    assert tg.customer.id != wa.customer.id and await store.customer_merges(tg.customer.id) == []
    [claim] = await store.customer_claims(tg.customer.id)
    assert claim.verified_at is not None  # the proof stands; it just finds nobody by a family phone
    sms = await writes(store, keyed("sms", PHONE.value, cap=1), T0 + timedelta(minutes=2))
    assert sms.customer.id not in (wa.customer.id, tg.customer.id)


async def test_without_auto_merge_the_proof_stands_but_merges_nobody(store: Store) -> None:
    wa = await writes(store, keyed("whatsapp", PHONE.value), T0)
    tg = await writes(store, telegram("5551234", PROOF, merge=False), T0 + timedelta(minutes=1))
    assert tg.customer.id != wa.customer.id and await store.customer_merges(wa.customer.id) == []
    [claim] = await store.customer_claims(tg.customer.id)
    assert claim.verified_at is not None
    assert [i.key for i in await store.customer_identities(tg.customer.id)] == ["phone:+79123456789"]


async def test_a_phone_owned_by_several_or_marked_shared_merges_nobody(store: Store) -> None:
    a = await writes(store, keyed("whatsapp", PHONE.value, match=False), T0)
    b = await writes(store, keyed("sms", PHONE.value, match=False), T0)
    assert a.customer.id != b.customer.id
    tg = await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=1))
    assert tg.customer.id not in (a.customer.id, b.customer.id)


async def test_two_accounts_proving_one_phone_are_one_customer_as_two_channels_of_it_are(store: Store) -> None:
    first = await writes(store, telegram("111", PROOF), T0)
    second = await writes(store, telegram("222", PROOF), T0 + timedelta(minutes=1))
    assert second.customer.id == first.customer.id
    # the cap counts profiles, not accounts: still one profile shares the phone
    third = await writes(store, telegram("333", PROOF, cap=1), T0 + timedelta(minutes=2))
    assert third.customer.id == first.customer.id
    assert {i.key for i in await store.customer_identities(first.customer.id)} == {"phone:+79123456789"}


async def test_an_identity_keeps_the_key_it_has_and_the_proof_still_merges(store: Store) -> None:
    other = KeyRef("phone", "+79990001122")
    owner = await writes(store, keyed("sms", other.value, key=other), T0)
    wa_plan = dataclasses.replace(keyed("whatsapp", PHONE.value), merge_proven=frozenset({"phone"}),
                                  proven=(ClaimPlan(other, "whatsapp:proven_phone", other.value),))
    wa = await writes(store, wa_plan, T0 + timedelta(minutes=1))
    assert wa.customer.id == owner.customer.id
    linked = {i.ref.kind: i.key for i in await store.customer_identities(owner.customer.id)}
    assert linked == {"sms": "phone:+79990001122", "whatsapp": "phone:+79123456789"}


async def test_a_profile_linked_without_proof_does_not_own_the_phone(store: Store) -> None:
    # merged by a typed claim (config merge_claims): its identity is unverified
    owner = await writes(store, keyed("whatsapp", "+79990001122", key=KeyRef("phone", "+79990001122")), T0)
    claimant = keyed("sms", PHONE.value, match=False, merge_claims=frozenset({"phone"}),
                     claims=(ClaimPlan(KeyRef("phone", "+79990001122"), "sms:text", "89990001122"),))
    joined = await writes(store, claimant, T0)
    assert joined.customer.id == owner.customer.id
    tg = await writes(store, telegram("5551234", PROOF), T0 + timedelta(minutes=1))
    assert tg.customer.id != owner.customer.id


async def test_automatic_messages_sent_to_a_customer_are_known(store: Store) -> None:
    step = await writes(store, telegram(), T0)
    assert not await store.automatic_sent(step.customer.id, "ask_phone")
    message = Message(id=new_id("msg"), conversation_id=step.conversation.id,
                      customer_id=step.customer.id, direction=Direction.OUT, author=Author.BOT, channel="telegram",
                      text="?", created_at=T0, delivery=Delivery.PENDING, core=CoreMeta(automatic="ask_phone"))
    payload = OutboundMessage(message_id=message.id, channel="telegram", recipient="5551234", author=Author.BOT,
                              text="?", created_at=T0)
    await store.enqueue_outbound(message, payload, None, T0)
    assert await store.automatic_sent(step.customer.id, "ask_phone")
    assert not await store.automatic_sent(step.customer.id, "handoff")


async def test_a_code_for_the_key_goes_only_to_the_identity_that_has_it(store: Store) -> None:
    keyed_one = await writes(store, telegram("5551234", PROOF), T0)
    other = await writes(store, telegram("999"), T0 + timedelta(minutes=1))
    # an agent joins another account of the same kind: it has no key of its own
    await store.merge_customers(MergeRequest(keyed_one.customer.id, other.customer.id, "agent", "agt_1", "same"),
                                T0 + timedelta(minutes=2))
    await writes(store, telegram("999"), T0 + timedelta(minutes=3))
    contacts = await store.key_contacts(PHONE, 10)
    assert contacts and {m.sender.value for m in contacts if m.sender} == {"5551234"}


async def test_an_identity_linked_without_proof_is_no_contact_for_its_key(store: Store) -> None:
    """A code for the phone goes only to an identity proven to be its customer's: one an agent merged in
    without proof would hand the code (and the history behind it) to whoever claims the phone."""
    holder = await writes(store, telegram("5551234", PROOF), T0)
    other = await writes(store, telegram("7770000"), T0 + timedelta(minutes=1))
    assert [m.id for m in await store.key_contacts(PHONE, 10)] == [holder.message.id]
    await store.merge_customers(MergeRequest(other.customer.id, holder.customer.id, "agent", "agt_1", "same",
                                             verified=False), T0 + timedelta(minutes=2))
    assert await store.key_contacts(PHONE, 10) == []


async def test_a_proof_is_applied_when_a_known_sender_is_resolved_on_its_own(store: Store) -> None:
    # resolve_identity outside the ingest transaction (Ingest.resume re-resolving a stored message
    # that carried the platform's proof): the proof is not skipped for a returning sender
    first = await writes(store, telegram(), T0)
    customer = await store.resolve_identity(telegram().identity, None, T0 + timedelta(minutes=1),
                                            telegram("5551234", PROOF))
    assert customer.id == first.customer.id
    [identity] = await store.customer_identities(first.customer.id)
    assert identity.key == "phone:+79123456789"
    [claim] = await store.customer_claims(first.customer.id)
    assert claim.source == "telegram:proven_phone" and claim.verified_at is not None
