"""The identity slice's part of the store contract (router/identity/store.py):
keys, claims, merges and unmerges, customers written by a CRM; on every
backend of tests/router/store/test_contract.py."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import datetime, timedelta

import pytest

from router.identity.errors import KeyShared
from router.identity.types import ClaimPlan, CustomerUpsert, IdentityPlan, KeyRef, MergeRequest
from router.models import (
    ConversationStatus,
    IdentityRef,
    InboundMessage,
)
from router.store.base import Store
from router.store.errors import ConflictError, NotFound
from router.store.pg_engine import PgConn
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.router.store.test_contract import T0, inbound, ingest

# -- identity: keys, claims, merges ---------------------------------------------------------

PHONE = KeyRef("phone", "+79123456789")


def keyed(kind: str, value: str, key: KeyRef | None = PHONE, match: bool = True, cap: int = 3,
          claims: tuple[ClaimPlan, ...] = (), merge_claims: frozenset[str] = frozenset()) -> IdentityPlan:
    return IdentityPlan(identity=IdentityRef(kind=kind, value=value), key=key, match=match, max_profiles=cap,
                        claims=claims, merge_claims=merge_claims)


def keyed_inbound(plan: IdentityPlan, external_id: str, text: str = "hi") -> InboundMessage:
    return InboundMessage(channel=plan.identity.kind, external_id=external_id, sender=plan.identity, text=text)


async def test_the_same_phone_on_two_channels_is_one_customer(store: Store) -> None:
    wa = await store.resolve_identity(IdentityRef(kind="whatsapp", value="+79123456789"), "Анна", T0,
                                      keyed("whatsapp", "+79123456789"))
    sms = await store.resolve_identity(IdentityRef(kind="sms", value="+79123456789"), None, T0,
                                       keyed("sms", "+79123456789"))
    assert sms.id == wa.id
    linked = {i.ref.kind: i for i in await store.customer_identities(wa.id)}
    assert linked["sms"].source == "rule" and "auto_merge" in (linked["sms"].link_reason or "")
    assert linked["sms"].key == "phone:+79123456789" and linked["whatsapp"].source == "channel"
    assert [a.action for a in await store.identity_audit(wa.id, 10)] == ["link"]


async def test_a_key_without_auto_merge_makes_a_profile_of_its_own(store: Store) -> None:
    wa = await store.resolve_identity(IdentityRef(kind="whatsapp", value="x"), None, T0, keyed("whatsapp", "+7912"))
    sms = await store.resolve_identity(IdentityRef(kind="sms", value="x"), None, T0,
                                       keyed("sms", "+7912", match=False))
    assert sms.id != wa.id


async def test_a_key_shared_by_too_many_profiles_stops_matching(store: Store) -> None:
    owner = await store.resolve_identity(IdentityRef(kind="sms", value="x"), None, T0, keyed("sms", "+7"))
    # two other profiles claim the same phone: three profiles share it now
    for n in (1, 2):
        plan = keyed("webchat", f"v{n}", key=None, claims=(ClaimPlan(PHONE, "webchat:text", "8912"),))
        await store.resolve_identity(plan.identity, None, T0, plan)
    within = await store.resolve_identity(IdentityRef(kind="phone", value="x"), None, T0,
                                          keyed("phone", "+7", cap=3))
    over = await store.resolve_identity(IdentityRef(kind="whatsapp", value="x"), None, T0,
                                        keyed("whatsapp", "+7", cap=2))
    assert over.id != owner.id and within.id == owner.id


async def test_a_claim_is_recorded_with_provenance_and_merges_nothing(store: Store) -> None:
    owner = await store.resolve_identity(IdentityRef(kind="whatsapp", value="x"), None, T0, keyed("whatsapp", "+7"))
    plan = keyed("webchat", "v1", key=None, claims=(ClaimPlan(PHONE, "webchat:claimed_phone", "8 (912) 345-67-89"),))
    step = await store.ingest(keyed_inbound(plan, "m1"), T0, plan)
    again = await store.ingest(keyed_inbound(plan, "m2"), T0 + timedelta(seconds=1), plan)
    assert step.customer.id != owner.id and again.customer.id == step.customer.id
    claims = await store.customer_claims(step.customer.id)
    assert len(claims) == 1  # the same claim twice is one claim, from the first message
    claim = claims[0]
    assert (claim.kind, claim.value, claim.source, claim.raw) == ("phone", PHONE.value, "webchat:claimed_phone",
                                                                  "8 (912) 345-67-89")
    assert claim.message_id == step.message.id and claim.verified_at is None
    assert await store.customer_claims(owner.id) == []


async def test_a_claim_merges_when_config_says_so_but_stays_unverified(store: Store) -> None:
    owner = await store.resolve_identity(IdentityRef(kind="whatsapp", value="x"), None, T0, keyed("whatsapp", "+7"))
    plan = keyed("webchat", "v1", key=None, claims=(ClaimPlan(PHONE, "webchat:text", "8912"),),
                 merge_claims=frozenset({"phone"}))
    step = await store.ingest(keyed_inbound(plan, "m1"), T0, plan)
    assert step.customer.id == owner.id
    linked = {i.ref.kind: i for i in await store.customer_identities(owner.id)}
    assert not linked["webchat"].verified and linked["webchat"].source == "rule"
    assert linked["whatsapp"].verified
    assert (await store.customer_merges(owner.id))[0].source == "rule"


async def _customer_with_conversation(store: Store, sender: str, at: datetime, channel: str = "webchat"
                                      ) -> tuple[str, str, str]:
    msg, conv_id = await ingest(store, inbound(f"{sender}-{at}", sender=sender, channel=channel, text=f"от {sender}"),
                                at)
    customer = await store.find_identity(IdentityRef(kind="webchat", value=sender))
    assert customer is not None
    return customer.id, conv_id, msg.id


async def _state(store: Store, *customer_ids: str) -> list[object]:
    """Everything a merge touches, to compare before and after."""
    state: list[object] = []
    for cid in customer_ids:
        state += [await store.get_customer(cid), await store.customer_identities(cid),
                  await store.customer_claims(cid), await store.customer_conversations(cid),
                  await store.customer_messages(cid, 100)]
        for conv in await store.customer_conversations(cid):
            state.append(await store.list_messages(conv.id, 100))
    return state


Rows = dict[str, dict[str, dict[str, object]]]
# every table an unmerge must put back, and how a row of it is named
_TABLES = {"customers": ("id", "id"), "identities": ("customer_id", "kind || ':' || value"),
           "identity_claims": ("customer_id", "id"), "conversations": ("customer_id", "id"),
           "messages": ("customer_id", "id")}


async def _all_rows(store: Store, *customer_ids: str) -> Rows:
    """Every row, every column, of the customers' profiles, identities, claims,
    conversations and messages, read from the database itself."""
    if isinstance(store, PostgresStore):
        return await store._pg.read(_pg_rows, customer_ids)
    assert isinstance(store, SQLiteStore)
    marks = ", ".join("?" for _ in customer_ids)
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        db.row_factory = sqlite3.Row
        rows: Rows = {}
        for table, (owner, name) in _TABLES.items():
            found = [dict(r) for r in db.execute(
                f"SELECT {name} AS _name, * FROM {table} WHERE {owner} IN ({marks})", customer_ids)]
            rows[table] = {str(r.pop("_name")): r for r in found}
        return rows


async def _pg_rows(conn: PgConn, customer_ids: tuple[str, ...]) -> Rows:
    rows: Rows = {}
    for table, (owner, name) in _TABLES.items():
        found = [dict(r) for r in await conn.fetch(
            f"SELECT {name} AS _name, * FROM {table} WHERE {owner} = ANY($1::text[])", list(customer_ids))]
        # seq is PostgreSQL's stand-in for SQLite's rowid, which `*` does not read there either
        rows[table] = {str(r.pop("_name")): {k: v for k, v in r.items() if k != "seq"} for r in found}
    return rows


def _differences(before: Rows, after: Rows) -> list[tuple[str, str, str, object, object]]:
    """(table, row, column, before, after) for every field that differs; a
    row missing on one side shows as a difference of its every column."""
    found = []
    for table in _TABLES:
        for name in sorted(set(before[table]) | set(after[table])):
            old, new = before[table].get(name, {}), after[table].get(name, {})
            found += [(table, name, col, old.get(col), new.get(col))
                      for col in sorted(set(old) | set(new)) if old.get(col) != new.get(col)]
    return found


async def test_merge_then_unmerge_restores_the_exact_prior_state(store: Store) -> None:
    a, conv_a, _ = await _customer_with_conversation(store, "anna-web", T0)
    b, conv_b, _ = await _customer_with_conversation(store, "anna-tg", T0 + timedelta(minutes=5), "telegram")
    plan = keyed("webchat", "anna-web", key=None, claims=(ClaimPlan(PHONE, "webchat:text", "8912"),))
    await store.resolve_identity(plan.identity, None, T0, plan)
    await store.set_conversation_state(conv_b, ConversationStatus.RESOLVED, None, T0 + timedelta(minutes=6))
    _, conv_b2, _ = await _customer_with_conversation(store, "anna-tg", T0 + timedelta(minutes=7), "telegram")
    before, rows_before = await _state(store, a, b), await _all_rows(store, a, b)

    record = await store.merge_customers(MergeRequest(a, b, "agent", "agt_1", "same person: said so on the phone"),
                                         T0 + timedelta(hours=1))
    merged = await store.get_customer(b)
    assert merged.merged_into == a
    assert {i.ref.value for i in await store.customer_identities(a)} == {"anna-web", "anna-tg"}
    convs = await store.customer_conversations(a)
    assert {c.id for c in convs} == {conv_a, conv_b, conv_b2}
    # one open conversation: the newer one (conv_b2) folded into the older (conv_a)
    assert [c.id for c in convs if c.status is not ConversationStatus.RESOLVED] == [conv_a]
    assert [m.text for m in await store.list_messages(conv_a, 10)] == ["от anna-web", "от anna-tg"]
    assert len(await store.customer_messages(a, 100)) == 3

    undone = await store.unmerge_customers(record.id, "agt_1", "different people after all", T0 + timedelta(hours=2))
    assert undone.undone_at is not None
    assert await _state(store, a, b) == before
    assert _differences(rows_before, await _all_rows(store, a, b)) == []
    actions = [(e.action, e.actor) for e in await store.identity_audit(a, 10)]
    assert actions == [("unmerge", "agt_1"), ("merge", "agt_1")]


async def _writes(store: Store, kind: str, sender: str, external_id: str, at: datetime) -> tuple[str, str, str]:
    """(customer, conversation, message) of a message on channel ``kind``."""
    msg = InboundMessage(channel=kind, external_id=external_id, sender=IdentityRef(kind=kind, value=sender),
                         text=f"{kind} {external_id}")
    stored, conv = await ingest(store, msg, at)
    customer = await store.find_identity(IdentityRef(kind=kind, value=sender))
    assert customer is not None
    return customer.id, conv, stored.id


@pytest.mark.parametrize("survivor", ["older", "newer"])
@pytest.mark.parametrize("other_channel", ["sms", "whatsapp"])
async def test_unmerge_after_messages_during_the_merge_gives_each_side_its_own(
    store: Store, other_channel: str, survivor: str
) -> None:
    """The older side (sms or whatsapp) keeps the open conversation at the
    merge; the webchat side writes into it while merged. After the undo the
    older side's conversation is its own again, channel included, and the
    message written meanwhile is with its sender."""
    phone, conv_phone, _ = await _writes(store, other_channel, "+79123456789", "p1", T0)
    web, conv_web, _ = await _writes(store, "webchat", "v-1", "w1", T0 + timedelta(minutes=5))
    rows_before = await _all_rows(store, phone, web)
    pair = (phone, web) if survivor == "older" else (web, phone)
    record = await store.merge_customers(MergeRequest(*pair, "agent", "agt_1", "looked alike"),
                                         T0 + timedelta(hours=1))
    _, conv, during = await _writes(store, "webchat", "v-1", "w2", T0 + timedelta(hours=1, minutes=1))
    assert conv == conv_phone and (await store.get_conversation(conv_phone)).channel == "webchat"

    await store.unmerge_customers(record.id, "agt_1", "two people", T0 + timedelta(hours=2))
    after = await _all_rows(store, phone, web)
    assert after["conversations"][conv_phone]["channel"] == other_channel
    assert after["messages"][during]["customer_id"] == web
    assert after["messages"][during]["conversation_id"] == conv_web
    web_conv = after["conversations"][conv_web]
    assert (web_conv["last_message_text"], web_conv["channel"]) == ("webchat w2", "webchat")
    # every other field of every row is as before the merge; what the message
    # written meanwhile changed is named here, nothing else may differ
    expected = {("conversations", conv_web, "last_message_at"), ("conversations", conv_web, "last_message_text"),
                ("conversations", conv_web, "updated_at"), ("conversations", conv_phone, "updated_at"),
                *(("messages", during, col) for col in after["messages"][during])}
    differences = _differences(rows_before, after)
    assert {d[:3] for d in differences} <= expected, differences


async def test_unmerge_sums_up_a_photo_as_the_list_shows_it(store: Store) -> None:
    """A conversation summed up again after an unmerge shows what the list
    shows of its last message: for a photo without words, the connector's
    description, as when it arrived."""
    phone, _, _ = await _writes(store, "sms", "+79123456789", "p1", T0)
    web, conv_web, _ = await _writes(store, "webchat", "v-1", "w1", T0 + timedelta(minutes=5))
    record = await store.merge_customers(MergeRequest(phone, web, "agent", "agt_1", "looked alike"),
                                         T0 + timedelta(hours=1))
    photo = InboundMessage(channel="webchat", external_id="w2", sender=IdentityRef(kind="webchat", value="v-1"),
                           text="", description="[photo]")
    await ingest(store, photo, T0 + timedelta(hours=1, minutes=1))
    await store.unmerge_customers(record.id, "agt_1", "two people", T0 + timedelta(hours=2))
    assert (await store.get_conversation(conv_web)).last_message_text == "[photo]"


async def test_conflicting_merges_are_refused_and_change_nothing(store: Store) -> None:
    a, _, _ = await _customer_with_conversation(store, "a", T0)
    b, _, _ = await _customer_with_conversation(store, "b", T0)
    c, _, _ = await _customer_with_conversation(store, "c", T0)
    with pytest.raises(ConflictError, match="itself"):
        await store.merge_customers(MergeRequest(a, a, "agent", None, "x"), T0)
    first = await store.merge_customers(MergeRequest(a, b, "agent", None, "x"), T0)
    before, rows_before = await _state(store, a, b, c), await _all_rows(store, a, b, c)
    with pytest.raises(ConflictError, match="merged into"):
        await store.merge_customers(MergeRequest(c, b, "agent", None, "x"), T0)
    with pytest.raises(NotFound):
        await store.merge_customers(MergeRequest(a, "cus_missing", "agent", None, "x"), T0)
    second = await store.merge_customers(MergeRequest(a, c, "agent", None, "x"), T0 + timedelta(seconds=1))
    with pytest.raises(ConflictError, match=f"undo the later merge {second.id} first"):
        await store.unmerge_customers(first.id, None, "x", T0)
    await store.unmerge_customers(second.id, None, "x", T0)
    assert await _state(store, a, b, c) == before
    assert _differences(rows_before, await _all_rows(store, a, b, c)) == []
    with pytest.raises(ConflictError, match="undone already"):
        await store.unmerge_customers(second.id, None, "x", T0)
    with pytest.raises(NotFound):
        await store.unmerge_customers("mrg_missing", None, "x", T0)


async def test_upsert_finds_by_key_links_new_keys_and_refuses_collisions(store: Store) -> None:
    crm = KeyRef("external", "crm-1")
    made = await store.upsert_customer(
        CustomerUpsert("crm", keys=(crm, PHONE), display_name="Анна", attributes=(("tier", "gold"),)), T0)
    assert made.created and made.customer.attributes == {"tier": "gold"} and made.set_aside == ()
    email = KeyRef("email", "anna@mail.ru")
    same = await store.upsert_customer(
        CustomerUpsert("import", keys=(email, PHONE), attributes=(("tier", None), ("city", "Пермь"))), T0)
    assert not same.created and same.customer.id == made.customer.id and same.customer.attributes == {"city": "Пермь"}
    assert same.customer.display_name == "Анна"
    other = (await store.upsert_customer(CustomerUpsert("crm", keys=(KeyRef("external", "crm-2"),)), T0)).customer
    with pytest.raises(ConflictError, match="different customers"):
        await store.upsert_customer(CustomerUpsert("crm", keys=(KeyRef("external", "crm-2"), email)), T0)
    with pytest.raises(ConflictError, match="has external id 'crm-1' already"):
        await store.upsert_customer(CustomerUpsert("crm", keys=(KeyRef("external", "crm-3"), email)), T0)
    with pytest.raises(NotFound):
        await store.upsert_customer(CustomerUpsert("crm", customer_id="cus_missing"), T0)
    assert await store.find_identity(IdentityRef(kind="external", value="crm-3")) is None
    assert (await store.get_customer(other.id)).attributes == {}


async def test_a_name_the_business_gave_is_not_replaced_by_a_channels_profile_name(store: Store) -> None:
    """A customer's WhatsApp or Telegram profile name ("Sunny 🌞") replaced the
    name the CRM or an import gave (151 of 241 customers in a run); a customer
    the business never named still takes the channel's."""
    named = (await store.upsert_customer(CustomerUpsert("import", keys=(KeyRef("external", "crm-7"), PHONE),
                                                        display_name="Анна Петрова"), T0)).customer
    seen = await store.resolve_identity(IdentityRef(kind="whatsapp", value=PHONE.value), "Sunny 🌞", T0,
                                        keyed("whatsapp", PHONE.value))
    assert seen.id == named.id and (await store.get_customer(named.id)).display_name == "Анна Петрова"
    unnamed = await store.resolve_identity(IdentityRef(kind="telegram", value="42"), "Ivan", T0,
                                           keyed("telegram", "42", key=None, match=False))
    renamed = await store.resolve_identity(IdentityRef(kind="telegram", value="42"), "Ivan P.", T0,
                                           keyed("telegram", "42", key=None, match=False))
    assert renamed.id == unnamed.id and (await store.get_customer(unnamed.id)).display_name == "Ivan P."


async def test_a_key_of_another_customer_is_set_aside_and_then_names_nobody(store: Store) -> None:
    """A family: the CRM has mother and son, one phone. The import sets the
    phone aside for the son (it is the mother's) and from then on the phone is
    shared: a write by it is refused, whoever it would have found."""
    mother = (await store.upsert_customer(CustomerUpsert("import", keys=(KeyRef("external", "f-1"), PHONE)), T0))
    son = await store.upsert_customer(CustomerUpsert(
        "import", keys=(KeyRef("external", "f-2"), PHONE), attributes=(("tier", "gold"),), shared_keys="set_aside"),
        T0)
    assert son.created and son.customer.id != mother.customer.id and son.customer.attributes == {"tier": "gold"}
    assert [(k, "has external id 'f-1' already" in why) for k, why in son.set_aside] == [(PHONE, True)]
    with pytest.raises(KeyShared) as refused:
        await store.upsert_customer(CustomerUpsert("crm", keys=(PHONE,), attributes=(("tier", "x"),)), T0)
    assert (refused.value.key, set(refused.value.customers)) == (PHONE, {mother.customer.id, son.customer.id})
    assert (await store.get_customer(mother.customer.id)).attributes == {}
    # the same rows again: nothing collides, the phone is set aside as shared
    again = await store.upsert_customer(CustomerUpsert(
        "import", keys=(KeyRef("external", "f-2"), PHONE), shared_keys="set_aside"), T0)
    assert again.customer.id == son.customer.id and "held by 2 customers" in again.set_aside[0][1]
    with pytest.raises(ConflictError, match="no key of the row names one customer"):
        await store.upsert_customer(CustomerUpsert("import", keys=(PHONE,), shared_keys="set_aside"), T0)
    # nor does a channel's first message by it join either of them: the mother's record was
    # taken for whoever wrote from the family phone (her son's WhatsApp), names and history with it
    owner = await store.resolve_identity(IdentityRef(kind="whatsapp", value=PHONE.value), None, T0,
                                         keyed("whatsapp", PHONE.value))
    assert owner.id not in {mother.customer.id, son.customer.id}


async def test_an_email_the_business_gave_two_customers_takes_the_mail_of_neither(store: Store) -> None:
    """A mail's sender is an email key, the kind an import links: the son's row
    came first, so his link was the address's identity, and the family's mail
    joined his record directly, never asking whether the key was shared."""
    email = KeyRef("email", "petrovy@mail.ru")
    son = (await store.upsert_customer(CustomerUpsert("import", keys=(KeyRef("external", "p-1"), email)), T0)).customer
    dad = await store.upsert_customer(CustomerUpsert(
        "import", keys=(KeyRef("external", "p-2"), email), shared_keys="set_aside"), T0)
    assert dad.set_aside and dad.set_aside[0][0] == email
    plan = keyed("email", email.value, key=email)
    sender = await store.resolve_identity(plan.identity, "Петровы", T0, plan)
    assert sender.id not in {son.id, dad.customer.id}
    # the son's link became the shared marker both now hold, and the audit says so
    assert email.value not in {i.ref.value for i in await store.customer_identities(son.id)}
    marks = {c.customer_id: c.source for c in [*await store.customer_claims(son.id),
                                                *await store.customer_claims(dad.customer.id)]}
    assert marks == {son.id: "import:shared", dad.customer.id: "import:shared"}
    [unlinked] = [a for a in await store.identity_audit(son.id, 10) if a.action == "unlink"]
    assert "shared" in unlinked.reason
    again = await store.resolve_identity(plan.identity, None, T0, plan)
    assert again.id == sender.id
    # an address given to one customer still brings its mail there
    own = KeyRef("email", "anna@mail.ru")
    anna = (await store.upsert_customer(CustomerUpsert("import", keys=(KeyRef("external", "a-1"), own)), T0)).customer
    mine = keyed("email", own.value, key=own)
    assert (await store.resolve_identity(mine.identity, None, T0, mine)).id == anna.id


async def test_a_widely_shared_key_is_logged_by_its_kind_never_its_value(
    store: Store, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """`phone +79123456789 is shared by more than 2 profiles` put a customer's number in the log."""
    for n in (1, 2, 3):
        plan = keyed("webchat", f"v{n}", key=None, claims=(ClaimPlan(PHONE, "webchat:text", "8912"),))
        await store.resolve_identity(plan.identity, None, T0, plan)
    with caplog.at_level(logging.DEBUG):
        await store.resolve_identity(IdentityRef(kind="whatsapp", value="x"), None, T0, keyed("whatsapp", "+7", cap=2))
    if request.node.callspec.params["store_factory"] != "sqlite-process":  # whose lines another process writes
        assert "a phone key is shared by more than 2 profiles" in caplog.text
    assert PHONE.value not in caplog.text


async def test_a_merge_and_its_undo_are_logged_by_ids_never_their_reasons(
    store: Store, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A merge's reason names the key that proved it («phone +79123456789 proven by a one-time
    code sent to it») or is an agent's words about the customer; both went to the log at INFO."""
    a = await store.resolve_identity(IdentityRef(kind="whatsapp", value="a"), None, T0)
    b = await store.resolve_identity(IdentityRef(kind="telegram", value="b"), None, T0)
    with caplog.at_level(logging.DEBUG):
        record = await store.merge_customers(MergeRequest(a.id, b.id, "code", None, f"phone {PHONE.value} proven by "
                                                          "a one-time code sent to it"), T0 + timedelta(minutes=1))
        await store.unmerge_customers(record.id, "agt_1", "Анна Петрова сказала, что это её муж",
                                      T0 + timedelta(minutes=2))
    if request.node.callspec.params["store_factory"] != "sqlite-process":  # whose lines another process writes
        assert f"customer {b.id} merged into {a.id} (code)" in caplog.text
        assert f"merge {record.id} undone" in caplog.text
    assert PHONE.value not in caplog.text and "Анна" not in caplog.text
