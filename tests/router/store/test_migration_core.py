"""Migration 10: the core's own data of a message moves out of ``extras``
(the platform's) into ``messages.core``. A database written by the schema
before it (migrations 1..9, the core's keys in ``extras``) opened by this
store keeps every marker, now in the typed fields, and a reply's pending
template request still goes out as a template."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from router.models import TemplateRequest
from router.store.migrations import MIGRATIONS
from router.store.rows import ts
from router.store.sqlite import SQLiteStore

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
THREAD = {"subject": "Заказ 1042", "message_id": "a@mail.example", "references": ["a@mail.example"]}
BOT = {"kind": "answer", "intent": "delivery_time", "confidence": 0.91, "candidates": [], "language": "ru"}

# (id, direction, author, extras as the schema before migration 10 kept them)
OLD_ROWS: list[tuple[str, str, str, dict[str, object]]] = [
    ("msg_in", "in", "customer", {
        "chat_id": 42, "description": "[photo]", "sender_name": "Анна", "identity": "+79123456789",
        "thread": THREAD, "proven_phone": "+79123456789", "claimed_email": "anna@mail.ru", "language": "ru",
        "follows_conversation": "conv_old",
    }),
    ("msg_bot", "out", "bot", {"bot": BOT}),
    ("msg_handoff", "out", "bot", {"bot": BOT, "automatic": "handoff"}),
    ("msg_ask", "out", "bot", {"automatic": "ask_phone", "aside": True}),
    ("msg_code", "out", "system", {"verification": True, "aside": True}),
    ("msg_agent", "out", "agent", {"agent_name": "Ольга", "template": True, "customer_name": "Анна"}),
    ("msg_report", "in", "customer", {"automated": "delivery report", "delivery_report": {"status": "5.1.1"}}),
    # keys of the same names but of other types, as a connector of one's own may have written them:
    # the core never read them (it took only a string, a dict), so they stay the platform's
    ("msg_odd", "in", "customer", {"language": 5, "thread": "abc", "claimed_phone": 79000000000, "identity": 123,
                                   "bot": ["x"], "aside": "yes", "customer_name": "Анна", "~": 1}),
]
# a row whose extras is not JSON (Python's json.dumps writes NaN) is left as it is, and the upgrade goes on
BROKEN = ("msg_nan", '{"score": NaN}')


def _old_database(path: Path) -> None:
    """A database as the schema before migration 10 wrote it."""
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:9], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    now = ts(T0)
    with conn:
        conn.execute("INSERT INTO customers (id, display_name, created_at, updated_at) VALUES ('cus_1', 'Анна', ?, ?)",
                     (now, now))
        conn.execute("INSERT INTO conversations (id, customer_id, status, channel, created_at, updated_at,"
                     " last_message_at) VALUES ('conv_1', 'cus_1', 'assigned', 'whatsapp', ?, ?, ?)", (now, now, now))
        for n, (message_id, direction, author, extras) in enumerate(OLD_ROWS):
            conn.execute(
                "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
                " sender_kind, sender_value, text, extras, created_at, delivery)"
                " VALUES (?, 'conv_1', 'cus_1', ?, ?, 'whatsapp', ?, 'whatsapp', 'whatsapp:+79123456789', ?, ?, ?, ?)",
                (message_id, direction, author, f"ext-{n}", f"text {n}", json.dumps(extras, ensure_ascii=False),
                 ts(T0.replace(second=n)), "received" if direction == "in" else "pending"),
            )
        conn.execute(
            "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
            " sender_kind, sender_value, text, extras, created_at, delivery)"
            " VALUES (?, 'conv_1', 'cus_1', 'in', 'customer', 'whatsapp', 'ext-nan', 'whatsapp',"
            " 'whatsapp:+79123456789', 'nan', ?, ?, 'received')", (*BROKEN, ts(T0.replace(minute=30))))
        payload = {
            "message_id": "msg_agent", "channel": "whatsapp", "recipient": "whatsapp:+79123456789", "author": "agent",
            "text": "Здравствуйте, {{1}}", "attachments": [], "created_at": T0.isoformat(),
            "extras": {"agent_name": "Ольга", "template": True, "customer_name": "Анна"},
            "thread": {}, "ask_phone": None, "history_changed": False,
        }
        conn.execute("INSERT INTO outbox (id, message_id, conversation_id, payload, status, next_attempt_at,"
                     " created_at) VALUES ('out_1', 'msg_agent', 'conv_1', ?, 'pending', ?, ?)",
                     (json.dumps(payload, ensure_ascii=False), now, now))
    conn.close()


async def test_an_upgraded_database_keeps_every_marker_in_the_typed_fields(tmp_path: Path) -> None:
    path = tmp_path / "omnirouter.db"
    _old_database(path)
    async with SQLiteStore(path) as store:
        got = {m.id: m for m in await store.list_messages("conv_1", 50)}
        inbound = got["msg_in"]
        assert (inbound.core.sender_name, inbound.core.identity) == ("Анна", "+79123456789")
        assert inbound.core.thread == THREAD
        assert (inbound.core.proven_phone, inbound.core.claimed_email) == ("+79123456789", "anna@mail.ru")
        assert (inbound.core.language, inbound.core.follows_conversation) == ("ru", "conv_old")
        # what the platform said stays the platform's
        assert inbound.extras == {"chat_id": 42, "description": "[photo]"}
        assert got["msg_bot"].core.bot == BOT and got["msg_bot"].core.automatic is None
        assert (got["msg_handoff"].core.bot, got["msg_handoff"].core.automatic) == (BOT, "handoff")
        assert (got["msg_ask"].core.automatic, got["msg_ask"].core.aside) == ("ask_phone", True)
        assert (got["msg_code"].core.verification, got["msg_code"].core.aside) == (True, True)
        agent = got["msg_agent"].core
        assert agent.agent_name == "Ольга"
        assert agent.template == TemplateRequest(customer_name="Анна", agent_name="Ольга")
        report = got["msg_report"]
        assert report.core.automated == "delivery report" and report.extras == {"delivery_report": {"status": "5.1.1"}}
        odd = got["msg_odd"]
        assert odd.extras == {"language": 5, "thread": "abc", "claimed_phone": 79000000000, "identity": 123,
                              "bot": ["x"], "aside": "yes", "customer_name": "Анна", "~": 1}
        assert odd.core.language is None and odd.core.thread == {} and not odd.core.aside
        for message in got.values():
            if message.id != "msg_odd":
                assert not {"automatic", "aside", "bot", "agent_name", "template", "thread"} & set(message.extras)
        # the SQL that reads the markers reads them where they now are
        assert await store.automatic_sent("cus_1", "ask_phone")
        assert not await store.automatic_sent("cus_1", "phone_saved")
        # the reply waiting in the outbox still asks for the template
        [entry] = await store.pending_outbox(10)
        assert entry.payload.template == TemplateRequest(customer_name="Анна", agent_name="Ольга")
        assert (entry.payload.agent_name, entry.payload.extras) == ("Ольга", {})
