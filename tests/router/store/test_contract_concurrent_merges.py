"""The identity slice's codes, claims, merges and unmerges under concurrent
writers, on every backend of BACKENDS (router/identity/store.py names the
lock each holds), started many times at once from two nodes, and a merge
racing the writers of what it moves (an inbound message, an agent's
resolve). The customer writes (resolve, upsert) race in
test_contract_concurrent_identity.py.

On PostgreSQL the two nodes are two ``PostgresStore`` instances on one
database, each with its own pool, so the races are between two processes'
worth of connections; each fails there without the lock its method's
docstring names. SQLite is one node (its one writer runs the transactions
one after another): both "nodes" are the same store, and these pass by
construction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from router.identity.types import ClaimPlan, KeyRef, MergeRequest, VerificationCheck, VerificationStart
from router.models import ConversationStatus, ConversationView, Customer, IdentityRef
from router.store.base import Store
from router.store.errors import ConflictError, IntegrityViolation
from router.store.postgres import PostgresStore
from tests.router.identity.test_store_contract import PHONE, keyed
from tests.router.store.test_contract import QUEUE, T0, StoreFactory, inbound, ingest

MANY = 12
DAILY_CAP = 3


@pytest.fixture
async def nodes(store: Store, store_factory: StoreFactory) -> AsyncIterator[tuple[Store, Store]]:
    """Two nodes on one database: a second store beside ``store`` on PostgreSQL;
    on SQLite (one node by design) the same store twice."""
    if not isinstance(store, PostgresStore):
        yield store, store
        return
    async with store_factory() as second:
        for node in (store, second):  # each pool's connections opened before the race, so the calls overlap
            await asyncio.gather(*(node.find_identity(IdentityRef(kind="warm", value=str(n))) for n in range(MANY)))
        yield store, second


def on_either(nodes: tuple[Store, Store], n: int) -> Store:
    """The node the ``n``-th of many parallel calls goes to: every other one to each."""
    return nodes[n % 2]


async def visitor(store: Store, name: str, display_name: str | None = None) -> Customer:
    return await store.resolve_identity(IdentityRef(kind="webchat", value=name), display_name, T0)


def successes(outcomes: list[Any]) -> list[Any]:
    """The calls that returned; every other must have been refused by a rule
    (``ConflictError``), never by a broken index (``IntegrityViolation``: two
    writes that did not see each other)."""
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, ConflictError) and not isinstance(o, IntegrityViolation) for o in failed), failed
    return [o for o in outcomes if not isinstance(o, BaseException)]


def bot_offer(customer_id: str, n: int) -> VerificationStart:
    return VerificationStart(customer_id, PHONE, "whatsapp", f"hash-{n}", timedelta(minutes=10),
                             timedelta(seconds=60), 5, origin="bot", exclusive=True, daily_cap=DAILY_CAP)


async def test_claims_of_one_phone_at_once_on_two_nodes_send_no_more_than_the_daily_cap(
        nodes: tuple[Store, Store]) -> None:
    # 12 visitors typing the same phone at the same moment (a bot making a phone receive
    # codes): the key's daily cap's lock makes each start count the ones before it
    claimants = [await visitor(nodes[0], f"v{n}") for n in range(MANY)]
    codes = await asyncio.gather(*(on_either(nodes, n).start_verification(bot_offer(c.id, n), T0)
                                   for n, c in enumerate(claimants)))
    assert sum(bool(code.channel) for code in codes) == DAILY_CAP  # the rest are decoys: nothing sent
    assert await nodes[1].offered_codes(PHONE, T0 - timedelta(days=1)) == DAILY_CAP


async def test_resends_of_one_customers_code_at_once_on_two_nodes_stop_at_max_sends(
        nodes: tuple[Store, Store]) -> None:
    # the customer's codes' lock: each resend reads the code the one before it wrote (its
    # sends), and replaces it; without it they all read the first and collide on inserting
    customer = await visitor(nodes[0], "v1")
    start = VerificationStart(customer.id, PHONE, "whatsapp", "hash", timedelta(minutes=10), timedelta(0), 3)
    await nodes[0].start_verification(start, T0)
    outcomes = await asyncio.gather(*(on_either(nodes, n).start_verification(start, T0) for n in range(MANY)),
                                    return_exceptions=True)
    resent = successes(outcomes)
    assert sorted(code.sends for code in resent) == [2, 3]  # then max_sends refuses the rest
    assert await nodes[1].offered_codes(PHONE, T0 - timedelta(days=1)) == 0  # an agent's codes: no cap's


async def test_codes_for_several_keys_of_one_customer_at_once_on_two_nodes_leave_one_pending(
        nodes: tuple[Store, Store]) -> None:
    # the customer's codes' lock alone (each key has a daily cap lock of its own): every
    # start replaces the code the one before it wrote, none finds the one-pending-code
    # index taken by a code it did not read
    customer = await visitor(nodes[0], "v1")
    starts = [VerificationStart(customer.id, KeyRef("phone", f"+7900000000{n:02d}"), "whatsapp", f"hash-{n}",
                                timedelta(minutes=10), timedelta(seconds=60), 3) for n in range(MANY)]
    codes = await asyncio.gather(*(on_either(nodes, n).start_verification(s, T0) for n, s in enumerate(starts)))
    assert all(code.status == "pending" and code.sends == 1 for code in codes)
    # the one left pending is the last written: a wrong guess counts against it alone
    answer = await nodes[1].check_verification(VerificationCheck(customer.id, "a guess", max_attempts=3), T0)
    assert answer is not None and answer[0].id in {code.id for code in codes}


async def test_wrong_guesses_at_once_on_two_nodes_get_max_attempts_and_no_more(nodes: tuple[Store, Store]) -> None:
    customer = await visitor(nodes[0], "v1")
    await nodes[0].start_verification(VerificationStart(
        customer.id, PHONE, "whatsapp", "hash-of-the-code", timedelta(minutes=10), timedelta(seconds=60), 5), T0)
    wrong = VerificationCheck(customer.id, "hash-of-a-guess", max_attempts=3)
    answers = await asyncio.gather(*(on_either(nodes, n).check_verification(wrong, T0) for n in range(MANY)))
    counted = sorted(a[0].attempts for a in answers if a is not None)
    assert counted == [1, 2, 3]  # the rest found no code pending: it died at the third


async def test_merging_a_pair_both_ways_at_once_on_two_nodes_merges_it_once(nodes: tuple[Store, Store]) -> None:
    for n in range(MANY // 2):  # rounds: the window between the reads and the writes is short
        a, b = await visitor(nodes[0], f"a{n}"), await visitor(nodes[0], f"b{n}")
        outcomes = await asyncio.gather(
            nodes[0].merge_customers(MergeRequest(a.id, b.id, "agent", None, "same person"), T0),
            nodes[1].merge_customers(MergeRequest(b.id, a.id, "agent", None, "same person"), T0),
            return_exceptions=True,
        )
        [merge] = successes(outcomes)
        assert len(await nodes[0].customer_merges(a.id)) == 1
        survivor = await nodes[1].get_customer(merge.survivor_id)
        assert survivor.merged_into is None  # never each merged into the other
        assert (await nodes[1].get_customer(merge.merged_id)).merged_into == survivor.id


async def test_unmerging_one_merge_at_once_on_two_nodes_undoes_it_once(nodes: tuple[Store, Store]) -> None:
    a, b = await visitor(nodes[0], "a", "Anna"), await visitor(nodes[0], "b")
    merge = await nodes[0].merge_customers(MergeRequest(a.id, b.id, "agent", None, "same person"), T0)
    outcomes = await asyncio.gather(*(on_either(nodes, n).unmerge_customers(merge.id, "ann", "not her", T0)
                                      for n in range(MANY)), return_exceptions=True)
    assert len(successes(outcomes)) == 1
    assert [e.action for e in await nodes[1].identity_audit(a.id, 10)] == ["unmerge", "merge"]


async def test_a_merge_racing_the_unmerge_of_the_survivors_last_merge_loses_nothing(
        nodes: tuple[Store, Store]) -> None:
    # the unmerge puts the survivor's profile back as it was before its merge only when
    # nobody changed it since; a merge into the survivor meanwhile is such a change, so
    # either the unmerge goes first and the new merge still names the survivor "Cee",
    # or the merge goes first and the unmerge is refused (a later merge stands)
    for n in range(MANY // 2):
        a, b = await visitor(nodes[0], f"a{n}"), await visitor(nodes[0], f"b{n}")
        c = await visitor(nodes[0], f"c{n}", "Cee")
        first = await nodes[0].merge_customers(MergeRequest(a.id, b.id, "agent", None, "same person"), T0)
        unmerged, merged = await asyncio.gather(
            nodes[0].unmerge_customers(first.id, "ann", "not him", T0 + timedelta(minutes=1)),
            nodes[1].merge_customers(MergeRequest(a.id, c.id, "agent", None, "same person"),
                                     T0 + timedelta(minutes=1)),
            return_exceptions=True,
        )
        assert not isinstance(merged, BaseException), merged  # the merge waits, it is never refused
        assert (await nodes[1].get_customer(a.id)).display_name == "Cee"
        if isinstance(unmerged, BaseException):
            assert isinstance(unmerged, ConflictError)
            assert (await nodes[1].get_customer(b.id)).merged_into == a.id
        else:
            assert (await nodes[1].get_customer(b.id)).merged_into is None


async def test_two_agents_dismissing_one_claim_at_once_on_two_nodes_get_one_success(
        nodes: tuple[Store, Store]) -> None:
    plan = keyed("whatsapp", "+79123456789")
    anna = await nodes[0].resolve_identity(plan.identity, "Анна", T0, plan)
    claim_plan = keyed("webchat", "v1", key=None, claims=(ClaimPlan(PHONE, "webchat:claimed_phone", "8 912"),))
    claimant = await nodes[0].resolve_identity(claim_plan.identity, None, T0, claim_plan)
    [claim] = await nodes[0].customer_claims(claimant.id)
    outcomes = await asyncio.gather(*(on_either(nodes, n).dismiss_claim(
        claimant.id, claim.id, f"agent-{n}", "a colleague's phone", 3, T0) for n in range(MANY)),
        return_exceptions=True)
    assert len(successes(outcomes)) == 1
    assert [e.action for e in await nodes[1].identity_audit(anna.id, 10)] == ["claim_dismissed"]


async def test_a_right_code_typed_twice_at_once_on_two_nodes_merges_once(nodes: tuple[Store, Store]) -> None:
    plan = keyed("whatsapp", "+79123456789")
    anna = await nodes[0].resolve_identity(plan.identity, "Анна", T0, plan)
    customer = await visitor(nodes[0], "v1")
    await nodes[0].start_verification(VerificationStart(
        customer.id, PHONE, "whatsapp", "hash-of-the-code", timedelta(minutes=10), timedelta(seconds=60), 5), T0)
    right = VerificationCheck(customer.id, "hash-of-the-code", max_attempts=3,
                              sender=IdentityRef(kind="webchat", value="v1"))
    answers = await asyncio.gather(*(on_either(nodes, n).check_verification(right, T0) for n in range(MANY)))
    verified = [a for a in answers if a is not None]
    assert len(verified) == 1  # the others found no code pending
    [(code, merge)] = verified
    assert code.status == "verified" and merge is not None and merge.survivor_id == anna.id
    assert len(await nodes[1].customer_merges(anna.id)) == 1


async def test_a_message_arriving_while_its_customer_is_merged_ends_with_the_survivor(
        nodes: tuple[Store, Store]) -> None:
    # the merge moves what the merged customer has; a message of theirs stored at the same
    # moment is either stored before (and moved with the rest) or after (and the survivor's):
    # never left behind with a customer that no longer exists on its own
    for n in range(MANY // 2):
        await ingest(nodes[0], inbound(f"a{n}-1", sender=f"a{n}"))
        await ingest(nodes[0], inbound(f"b{n}-1", sender=f"b{n}"))
        a = await nodes[0].find_identity(IdentityRef(kind="webchat", value=f"a{n}"))
        b = await nodes[0].find_identity(IdentityRef(kind="webchat", value=f"b{n}"))
        assert a is not None and b is not None
        _, arrived = await asyncio.gather(
            nodes[0].merge_customers(MergeRequest(a.id, b.id, "agent", None, "same person"), T0),
            nodes[1].ingest(inbound(f"b{n}-2", sender=f"b{n}"), T0),
        )
        if arrived.conversation is None:  # what routing does next
            await nodes[1].attach_to_conversation(arrived.message.id, arrived.customer.id, "webchat", QUEUE, T0)
        assert await nodes[1].customer_messages(b.id, 10) == []
        assert await nodes[1].customer_conversations(b.id) == []
        mine = await nodes[1].customer_messages(a.id, 10)
        assert {m.external_id for m in mine} == {f"a{n}-1", f"b{n}-1", f"b{n}-2"}
        opened = [c for c in await nodes[1].customer_conversations(a.id) if c.status is not ConversationStatus.RESOLVED]
        assert len(opened) == 1 and {m.conversation_id for m in mine} <= {c.id for c in
                                                                         await nodes[1].customer_conversations(a.id)}


async def test_an_agent_resolving_a_conversation_while_its_customer_is_merged_sees_what_it_resolves(
        nodes: tuple[Store, Store]) -> None:
    # both customers have an open conversation: the merge folds the newer (b's) into the older
    # (a's). An agent resolving a's at that moment resolves it before the fold (and the merge,
    # finding one open conversation, folds nothing) or after it, with b's words in it; never
    # a conversation that b's messages are moved into once it is closed
    open_ = {ConversationStatus.QUEUED, ConversationStatus.ASSIGNED}

    async def agent_resolves(conversation_id: str, looks: int) -> ConversationView:
        for _ in range(looks):  # the agent reads it first: each round starts the resolve a step later
            await nodes[1].get_conversation(conversation_id)
        return await nodes[1].set_conversation_state(conversation_id, ConversationStatus.RESOLVED, None,
                                                     T0 + timedelta(seconds=2), expected=open_)

    for n in range(MANY * 2):
        _, kept = await ingest(nodes[0], inbound(f"a{n}-1", sender=f"a{n}", text="от a"))
        _, other = await ingest(nodes[0], inbound(f"b{n}-1", sender=f"b{n}", text="от b"), T0 + timedelta(seconds=1))
        a = (await nodes[0].get_conversation(kept)).customer_id
        b = (await nodes[0].get_conversation(other)).customer_id
        _, resolved = await asyncio.gather(
            nodes[0].merge_customers(MergeRequest(a, b, "agent", None, "same person"), T0 + timedelta(seconds=2)),
            agent_resolves(kept, n % MANY),
        )
        folded = await nodes[1].get_conversation(other)
        if folded.route_reason == f"merged into {kept}":
            assert resolved.last_message_text == "от b"
        else:
            assert folded.status is not ConversationStatus.RESOLVED and folded.customer_id == a
