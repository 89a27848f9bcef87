"""The store's contract for one-time codes the bot offers by itself: every
backend (the fixtures of test_contract)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from router.identity.types import KeyRef, VerificationCheck, VerificationStart
from router.store.base import Store
from router.store.errors import ConflictError
from tests.router.store.test_contract import T0, inbound, ingest

PHONE = KeyRef("phone", "+79123456789")
OTHER = KeyRef("phone", "+79261234567")
TTL = timedelta(minutes=10)


def start(customer_id: str, conversation_id: str, key: KeyRef = PHONE, channel: str = "whatsapp",
          exclusive: bool = True, origin: str = "bot") -> VerificationStart:
    return VerificationStart(customer_id, key, channel, "hash-of-the-code", TTL, timedelta(seconds=60), 5,
                             conversation_id, "bot" if origin == "bot" else "agent", exclusive=exclusive)


async def claimant(store: Store) -> tuple[str, str]:
    stored, conversation_id = await ingest(store, inbound("m1", sender="visitor-1"))
    assert stored.sender is not None
    customer = await store.find_identity(stored.sender)
    assert customer is not None
    return customer.id, conversation_id


async def test_a_conversation_lists_its_codes_with_their_origin(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    assert await store.conversation_verifications(conversation_id) == []
    first = await store.start_verification(start(customer_id, conversation_id), T0)
    assert (first.origin, first.conversation_id, first.channel, first.status) == (
        "bot", conversation_id, "whatsapp", "pending")
    assert [v.id for v in await store.conversation_verifications(conversation_id)] == [first.id]


async def test_an_exclusive_start_leaves_a_pending_code_alone_until_its_time_is_up(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    first = await store.start_verification(start(customer_id, conversation_id), T0)
    with pytest.raises(ConflictError, match="is pending"):
        await store.start_verification(start(customer_id, conversation_id, OTHER), T0 + timedelta(minutes=1))
    later = await store.start_verification(start(customer_id, conversation_id, OTHER), T0 + TTL)
    statuses = {v.id: v.status for v in await store.conversation_verifications(conversation_id)}
    assert statuses == {first.id: "expired", later.id: "pending"}


async def test_a_decline_ends_a_pending_code_once(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    code = await store.start_verification(start(customer_id, conversation_id), T0)
    declined = await store.decline_verification(code.id)
    assert declined is not None and declined.status == "declined"
    assert await store.decline_verification(code.id) is None
    # the declined code is dead: typing it checks nothing
    assert await store.check_verification(VerificationCheck(customer_id, "hash-of-the-code", 5), T0) is None


async def test_a_decoy_neither_throttles_nor_counts_as_a_send(store: Store) -> None:
    """A code the bot sent nowhere ("" channel) does not stop an agent's real one."""
    customer_id, conversation_id = await claimant(store)
    await store.start_verification(start(customer_id, conversation_id, channel=""), T0)
    real = await store.start_verification(start(customer_id, conversation_id, exclusive=False, origin="agent"),
                                          T0 + timedelta(seconds=1))
    assert (real.sends, real.origin, real.channel) == (1, "agent", "whatsapp")


async def test_codes_offered_to_a_key_are_counted_since_a_time_decoys_and_agents_aside(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    await store.start_verification(start(customer_id, conversation_id), T0)
    await store.start_verification(start(customer_id, conversation_id, exclusive=False), T0 + TTL)
    await store.start_verification(start(customer_id, conversation_id, channel="", exclusive=False),
                                   T0 + 2 * TTL)  # a decoy: nothing was sent
    await store.start_verification(start(customer_id, conversation_id, origin="agent", exclusive=False,
                                         key=PHONE), T0 + 3 * TTL + timedelta(minutes=2))
    await store.start_verification(start(customer_id, conversation_id, OTHER, exclusive=False), T0 + 4 * TTL)
    assert await store.offered_codes(PHONE, T0) == 2
    assert await store.offered_codes(PHONE, T0 + timedelta(seconds=1)) == 1
    assert await store.offered_codes(OTHER, T0) == 1
    assert await store.offered_codes(KeyRef("email", "anna@example.com"), T0) == 0


async def test_past_the_daily_cap_a_start_stores_a_decoy_counted_in_its_own_transaction(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    # started at once, so in any order (on PostgreSQL they run in parallel): no resend wait to trip on
    capped = [dataclasses.replace(start(customer_id, conversation_id, exclusive=False), daily_cap=2,
                                  resend_after=timedelta(0)) for _ in range(3)]
    started = await asyncio.gather(*(store.start_verification(s, T0) for s in capped))
    assert sorted(v.channel for v in started) == ["", "whatsapp", "whatsapp"]
    assert await store.offered_codes(PHONE, T0) == 2


async def test_an_exclusive_start_is_never_throttled_by_earlier_sends(store: Store) -> None:
    """The bot's offer: refused only while a code is pending, never by resend/max_sends (that would tell
    a number a code went to from one nobody has)."""
    customer_id, conversation_id = await claimant(store)
    for i in range(7):  # max_sends is 5
        code = await store.start_verification(start(customer_id, conversation_id), T0 + i * TTL)
        assert code.channel == "whatsapp"


async def test_a_code_past_its_time_is_no_attempt_outside_its_conversation(store: Store) -> None:
    customer_id, conversation_id = await claimant(store)
    await store.start_verification(start(customer_id, conversation_id), T0)
    elsewhere = VerificationCheck(customer_id, "hash-of-the-code", 5, conversation_id="cnv_other")
    assert await store.check_verification(elsewhere, T0 + TTL) is None
    here = dataclasses.replace(elsewhere, conversation_id=conversation_id)
    outcome = await store.check_verification(here, T0 + TTL)
    assert outcome is not None and outcome[0].status == "expired"
    assert await store.check_verification(here, T0 + TTL) is None  # answered once


async def test_a_code_killed_by_wrong_tries_still_throttles_the_next(store: Store) -> None:
    """Five wrong guesses killed an agent's code, and the next went out at once,
    its count begun again: the latest code throttles whether it is live or not."""
    customer_id, conversation_id = await claimant(store)
    agents = start(customer_id, conversation_id, exclusive=False, origin="agent")
    first = await store.start_verification(agents, T0)
    for n in range(2):
        await store.check_verification(VerificationCheck(customer_id, "wrong-hash", 2), T0 + timedelta(seconds=n + 1))
    statuses = {v.id: v.status for v in await store.conversation_verifications(conversation_id)}
    assert statuses == {first.id: "failed"}
    with pytest.raises(ConflictError, match="try again in 57 s"):
        await store.start_verification(agents, T0 + timedelta(seconds=3))
    again = await store.start_verification(agents, T0 + timedelta(seconds=61))
    assert again.sends == 2
