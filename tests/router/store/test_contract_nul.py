"""U+0000 (NUL) in what the platforms send (an email's body or subject, a
sender's name, a webhook's JSON, a CRM's attribute) is stored on every
backend of BACKENDS. PostgreSQL refuses it in ``text`` and as ``\\u0000`` in
``jsonb``: the ingest was a 500 and a poller fetched the same mail for ever.
There every statement's values go through ``router.store.pg_text``'s codecs,
which store it as U+FFFD; SQLite stores what it is given."""

from __future__ import annotations

from router.identity.types import CustomerUpsert, KeyRef
from router.models import IdentityRef, InboundMessage
from router.store.base import Store
from router.store.postgres import PostgresStore
from tests.router.store.test_contract import QUEUE, T0, outbound

BACKSLASH = "C:\\u0000dir"  # a customer's backslash and text, not an escape: kept as typed everywhere


def stored(store: Store, text: str) -> str:
    """``text`` as ``store`` keeps it."""
    return text.replace("\x00", "\ufffd") if isinstance(store, PostgresStore) else text


async def test_an_email_with_nul_in_its_text_name_and_subject_is_stored(store: Store) -> None:
    mail = InboundMessage(channel="email", external_id="<e1@x>", sender=IdentityRef(kind="email", value="a@b.c"),
                          sender_name="An\x00na", text="body \x00 end",
                          extras={"subject": "x\x00y", "path": BACKSLASH, "nested": {"list": ["\x00"]}})
    ingested = await store.ingest(mail, T0)
    message = await store.get_message(ingested.message.id)
    assert message.text == stored(store, "body \x00 end")
    assert message.extras == {"subject": stored(store, "x\x00y"), "path": BACKSLASH,
                              "nested": {"list": [stored(store, "\x00")]}}
    # a sender's name loses its controls before any store sees it (router.controls.customer_name);
    # a name given the store straight, as below, is stored with its NUL
    assert (await store.get_customer(ingested.customer.id)).display_name == "Anna"
    again = await store.ingest(mail, T0)  # the poller's next pass: the same mail, stored once
    assert again.duplicate and again.message.id == message.id


async def test_a_sender_and_a_crm_write_with_nul_are_stored(store: Store) -> None:
    sender = IdentityRef(kind="webchat", value="v\x001")
    customer = await store.resolve_identity(sender, "B\x00b", T0)
    assert customer.display_name == stored(store, "B\x00b")
    assert (await store.find_identity(sender)) is not None  # found by the value it was given
    written = await store.upsert_customer(CustomerUpsert(
        "crm", keys=(KeyRef("external", "crm\x001"),), display_name="C\x00",
        attributes=(("note", "n\x00o"), ("path", BACKSLASH))), T0)
    profile = await store.get_customer(written.customer.id)
    assert profile.attributes == {"note": stored(store, "n\x00o"), "path": BACKSLASH}
    assert profile.display_name == stored(store, "C\x00")


async def test_a_reply_with_nul_is_queued(store: Store) -> None:
    customer = await store.resolve_identity(IdentityRef(kind="webchat", value="u1"), None, T0)
    first = await store.ingest(InboundMessage(channel="webchat", external_id="m1", text="hi",
                                              sender=IdentityRef(kind="webchat", value="u1")), T0)
    conversation, _ = await store.attach_to_conversation(first.message.id, customer.id, "webchat", QUEUE, T0)
    message, payload = outbound(conversation.id, customer.id, text="re\x00ply")
    queued, _ = await store.enqueue_outbound(message, payload, None, T0)
    assert (await store.get_message(queued.id)).text == stored(store, "re\x00ply")
    [entry] = await store.pending_outbox(1)
    assert entry.payload.text == stored(store, "re\x00ply")
