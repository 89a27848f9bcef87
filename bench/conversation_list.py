"""The console's conversation list with many open conversations: what an
agent waits for each time they open a tab of the list.

    python -m bench.conversation_list [--open 50000] [--resolved 50000] [--samples 200]

Fills an SQLite store (the real schema, through ``SQLiteStore``) with
``--open`` open conversations (queued, with the bot, assigned) and
``--resolved`` resolved ones, each with its customer and one message, written
straight into the tables (the ingest path would take minutes), then starts
``omnirouter run`` on it and times ``GET /api/conversations`` for each tab the
console has (open, queued, mine = assigned to the agent asking, resolved) and
``status=all``, as the console asks them (the default page of 200; "mine" is
the server's ``assignee=me`` filter, on the admin who asks, given every
assigned one); "deep", a page of resolved ones near the oldest (a cursor); "mine-none",
the Mine tab of an agent with no conversation. Prints p50/p99 per tab.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.load import PASSWORD, free_port, percentile, server, write_config
from router.store.sqlite import SQLiteStore

TABS = {"open": {"status": "open"}, "queued": {"status": "queued"},
        "mine": {"status": "assigned", "assignee": "me"}, "resolved": {"status": "resolved"}, "all": {"status": "all"}}


async def fill(path: Path, open_count: int, resolved: int) -> str:
    """The store's schema, then rows; the admin's id (the assignee of the assigned ones)."""
    async with SQLiteStore(path):
        pass  # the schema, by the store's own migrations
    now = datetime.now(UTC)
    db = sqlite3.connect(path)
    agent = "agt_bench"
    db.execute("INSERT OR IGNORE INTO agents (id, username, display_name, role, password_hash, created_at)"
               " VALUES (?, 'bench-agent', 'Bench', 'agent', 'x', ?)", (agent, now.isoformat()))
    rng = random.Random(7)
    customers, conversations, messages = [], [], []
    for i in range(open_count + resolved):
        cus, conv = f"cus_bench{i:012x}", f"conv_bench{i:012x}"
        at = (now - timedelta(seconds=rng.randrange(30 * 86400))).isoformat()
        status = "resolved" if i >= open_count else rng.choice(["queued", "bot", "assigned"])
        customers.append((cus, f"Customer {i}", "{}", at, at))
        conversations.append((conv, cus, status, agent if status == "assigned" else None, "support", "webchat",
                              at, at, at, f"question {i}", at if status == "resolved" else None))
        messages.append((f"msg_bench{i:012x}", conv, cus, "in", "customer", "webchat", f"ext{i}", "webchat",
                         f"v{i}", f"question {i}", "[]", "{}", "{}", at, "received"))
    db.executemany("INSERT INTO customers (id, display_name, attributes, created_at, updated_at)"
                   " VALUES (?, ?, ?, ?, ?)", customers)
    db.executemany("INSERT INTO conversations (id, customer_id, status, agent_id, team, channel, created_at,"
                   " updated_at, last_message_at, last_message_text, resolved_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", conversations)
    db.executemany("INSERT INTO messages (id, conversation_id, customer_id, direction, author, channel, external_id,"
                   " sender_kind, sender_value, text, attachments, extras, core, created_at, delivery)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", messages)
    db.commit()
    db.close()
    return agent


async def time_tabs(base: str, samples: int, db: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {tab: [] for tab in TABS}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD}) as r:
            r.raise_for_status()
            admin = (await r.json())["agent"]["id"]
        # the admin exists once the service started: the assigned ones become theirs, so "mine" is every one
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE conversations SET agent_id = ? WHERE status = 'assigned'", (admin,))
            # a page deep in the list: the resolved ones after the 200 oldest but one
            at, conv_id = conn.execute("SELECT last_message_at, id FROM conversations WHERE status = 'resolved'"
                                       " ORDER BY last_message_at, id LIMIT 1 OFFSET 200").fetchone()
        deep = {"status": "resolved", "cursor": _cursor(at, conv_id)}
        async with http.post(f"{base}/api/agents", json={"username": "nobody", "display_name": "No One",
                                                          "password": PASSWORD}) as r:
            r.raise_for_status()
        none = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with none.post(f"{base}/api/login", json={"username": "nobody", "password": PASSWORD}) as r:
            r.raise_for_status()
        asks = {**{tab: (http, params) for tab, params in TABS.items()}, "deep": (http, deep),
                "mine-none": (none, TABS["mine"])}
        times.update({"deep": [], "mine-none": []})
        for _ in range(samples):
            for tab, (session, params) in asks.items():
                started = time.perf_counter()
                async with session.get(f"{base}/api/conversations", params=params) as r:
                    body = await r.read()
                    r.raise_for_status()
                times[tab].append(time.perf_counter() - started)
                json.loads(body)
        await none.close()
    return times


def _cursor(at: str, conv_id: str) -> str:
    """The list's cursor (agents_ui.conversation_pages) of a row as the store holds it."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    raw = json.dumps([moment.isoformat(), conv_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        write_config(Path(folder), port, "process")
        started = time.perf_counter()
        await fill(Path(folder) / "bench.db", args.open, args.resolved)
        print(f"filled {args.open:,} open and {args.resolved:,} resolved conversations"
              f" in {time.perf_counter() - started:.1f} s")
        cmd = [".venv/bin/omnirouter", "run", "--config", folder]
        async with server(cmd, port, {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD}):
            times = await time_tabs(f"http://127.0.0.1:{port}", args.samples, Path(folder) / "bench.db")
    print(f"GET /api/conversations (a page of 200), {args.samples} samples each:")
    for tab, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"  {tab:9s} p50 {percentile(ms, 0.5):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=50_000)
    parser.add_argument("--resolved", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
