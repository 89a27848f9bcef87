"""The rows of ``bench.console_lists``, made by the database itself in a few
statements (the same SQL on both stores but for how rows are counted out
and how a time is written): a million customers in under a minute, where the
ingest path would take hours.

Row ``n`` (0 ≤ n < customers) is customer ``cus_n`` with identity
``visitor-n``, conversation ``cnv_n`` and its first message ``msg_n``, last
active ``(n * 7919) % 30 days`` ago. One in twenty conversations is open: of
those, by ``n / 20 % 4``, queued, queued, assigned (to one of 50 agents; the
first one's to the admin) or with the bot;
one open one in fifty is snoozed.
"""

from __future__ import annotations

from datetime import datetime

ADMIN = "agt_admin"
OPEN_EVERY = 20  # one conversation in twenty open: 50,000 at 1,000,000 customers


def _series(backend: str, count: int) -> str:
    if backend == "sqlite":
        return (f"(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1})"
                " SELECT n FROM s) AS g")
    return f"generate_series(0::bigint, {count - 1}) AS g(n)"


def _ago(backend: str, now: datetime, seconds: str) -> str:
    """The SQL of the moment ``seconds`` (an SQL expression) before ``now``, as the store writes times."""
    if backend == "sqlite":
        base = now.strftime("%Y-%m-%d %H:%M:%S")
        return f"strftime('%Y-%m-%dT%H:%M:%S.000000Z', '{base}', (-({seconds})) || ' seconds')"
    return f"(TIMESTAMPTZ '{now.isoformat()}' - make_interval(secs => ({seconds})))"


def fill_statements(backend: str, customers: int, now: datetime, admin_hash: str) -> list[str]:
    """Every row, the console's admin among them (``ADMIN``, with this password hash: the service
    seeds none then, and nothing writes to the store behind the running service's back)."""
    every = "g.n"
    at = _ago(backend, now, f"({every} * 7919) % 2592000")
    stamp = _ago(backend, now, "0")
    later = _ago(backend, now, "-86400")  # a day from now: a snooze's end
    is_open = f"{every} % {OPEN_EVERY} = 0"
    kind = f"({every} / {OPEN_EVERY}) % 4"
    status = (f"CASE WHEN NOT ({is_open}) THEN 'resolved' WHEN {kind} IN (0, 1) THEN 'queued'"
              f" WHEN {kind} = 2 THEN 'assigned' ELSE 'bot' END")
    channel = f"CASE {every} % 3 WHEN 0 THEN 'webchat' WHEN 1 THEN 'telegram' ELSE 'email' END"
    team = f"CASE {every} % 3 WHEN 0 THEN 'support' WHEN 1 THEN 'senior' ELSE 'billing' END"
    snoozed = f"CASE WHEN {is_open} AND {kind} <> 2 AND ({every} / {OPEN_EVERY}) % 50 = 1 THEN {later} END"
    # the assigned ones spread over the 50 agents (the admin takes agt_bench0's, below)
    agent = f"CASE WHEN {is_open} AND {kind} = 2 THEN 'agt_bench' || (({every} / {OPEN_EVERY} / 4) % 50) END"
    series = _series(backend, customers)
    yes, no = ("true", "false") if backend == "postgres" else ("1", "0")
    events = "ARRAY['message.created']" if backend == "postgres" else "'[\"message.created\"]'"
    return [
        "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
        f" VALUES ('{ADMIN}', 'admin', 'Admin', 'admin', '{admin_hash}', {stamp})",
        "INSERT INTO agents (id, username, display_name, role, password_hash, created_at)"
        f" SELECT 'agt_bench' || n, 'bench' || n, 'Bench ' || n, 'agent', 'x', {stamp}"
        f" FROM {_series(backend, 50)}",
        "INSERT INTO customers (id, display_name, created_at, updated_at)"
        f" SELECT 'cus_' || n, 'Customer ' || n, {at}, {at} FROM {series}",
        "INSERT INTO identities (kind, value, customer_id, created_at)"
        f" SELECT 'webchat', 'visitor-' || n, 'cus_' || n, {at} FROM {series}",
        "INSERT INTO conversations (id, customer_id, status, team, agent_id, channel, created_at, updated_at,"
        " last_message_at, last_message_text, resolved_at, snoozed_until)"
        f" SELECT 'cnv_' || n, 'cus_' || n, {status}, {team}, {agent}, {channel}, {at}, {at}, {at},"
        f" 'question ' || n, CASE WHEN {is_open} THEN NULL ELSE {at} END, {snoozed} FROM {series}",
        "INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
        " sender_kind, sender_value, text, created_at, delivery)"
        f" SELECT 'msg_' || n, 'cnv_' || n, 'cus_' || n, 'in', 'customer', {channel}, 'ext' || n, 'webchat',"
        f" 'visitor-' || n, 'question ' || n, {at}, 'received' FROM {series}",
        f"INSERT INTO labels (name, created_at) VALUES ('vip', {stamp})",
        "INSERT INTO conversation_labels (conversation_id, label, created_at)"
        f" SELECT 'cnv_' || n, 'vip', {at} FROM {series} WHERE n % 100 = 7",
        "INSERT INTO csat_surveys (id, conversation_id, customer_id, team, channel, language, asked_at, rating,"
        f" answered_at) SELECT 'srv_' || n, 'cnv_' || n, 'cus_' || n, {team}, {channel}, 'en', {at},"
        f" 1 + n % 5, {at} FROM {series} WHERE n % 10 = 1",
        "INSERT INTO webhook_subscriptions (id, url, events, secret, active, allow_private, created_at, updated_at)"
        f" VALUES ('whs_bench', 'https://hooks.example.com/in', {events}, 'bench-secret', {no}, {yes},"
        f" {stamp}, {stamp})",
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_key, body, status,"
        " attempts, next_attempt_at, created_at, finished_at)"
        f" SELECT 'whd_' || n, 'whs_bench', 'evt_' || n, 'message.created', 'cnv_' || n, '{{}}', 'sent', 1,"
        f" {at}, {at}, {at} FROM {series} WHERE n % 10 = 3",
        # the first bench agent's conversations are the admin's; notes mention the admin on one
        # conversation in a thousand, half of them read
        f"UPDATE conversations SET agent_id = '{ADMIN}', assigned_at = last_message_at WHERE agent_id = 'agt_bench0'",
        "INSERT INTO notes (id, conversation_id, agent_id, agent_name, text, created_at)"
        f" SELECT 'note_' || n, 'cnv_' || n, '{ADMIN}', 'Admin', 'see @admin', {at} FROM {series}"
        " WHERE n % 1000 = 0",
        "INSERT INTO note_mentions (note_id, agent_id, conversation_id, created_at, read_at)"
        f" SELECT 'note_' || n, '{ADMIN}', 'cnv_' || n, {at}, CASE WHEN n % 2000 = 0 THEN {at} END"
        f" FROM {series} WHERE n % 1000 = 0",
    ]
