"""The ideal site-chat server omnirouter is measured against (issue 24): the
least a server can do and still be one.

aiohttp websockets in (``/chat/ws``, the site chat's frames: hello, message),
one SQLite insert per message (WAL, ``synchronous=NORMAL`` as omnirouter's
default store, a unique key on the sender and the client's id so a re-sent
message is stored once), commits gathered every ~2 ms, and the customer
acknowledged only after the commit (durable before ack, as omnirouter); then
one ``message.created`` frame, encoded once, to every agent websocket
(``/api/ws``, after ``POST /api/login``). No identity, no conversation, no
rules, no events for anyone else: ``bench.load --reference ideal`` drives it
with the same clients as omnirouter, and the ratio of the two is the cost of
everything omnirouter does beyond this.

    python -m bench.ideal_server PORT DB_PATH
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

GROUP_COMMIT = 0.002  # seconds: at most one commit this often, of everything that came meanwhile
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, visitor TEXT NOT NULL, client_id TEXT NOT NULL, text TEXT NOT NULL,
    created_at REAL NOT NULL, UNIQUE (visitor, client_id))
"""


@dataclass
class Pending:
    ws: web.WebSocketResponse
    visitor: str
    client_id: str
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)


class Ideal:
    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_SCHEMA)
        # one thread for the database: the event loop never waits for a commit
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="ideal-writer")
        self.pending: list[Pending] = []
        self.wake = asyncio.Event()
        self.agents: set[web.WebSocketResponse] = set()

    def _commit(self, batch: list[Pending]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO messages (id, visitor, client_id, text, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (visitor, client_id) DO NOTHING",
            [(p.id, p.visitor, p.client_id, p.text, p.created_at) for p in batch],
        )
        self.db.execute("COMMIT")

    async def writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            started = loop.time()
            batch, self.pending = self.pending, []
            await loop.run_in_executor(self.pool, self._commit, batch)
            for p in batch:  # stored: acknowledged, then to the agents
                await self._send(p.ws, json.dumps({"type": "ack", "client_id": p.client_id, "id": p.id}))
                frame = json.dumps({"type": "message.created", "data": {"message": {
                    "id": p.id, "conversation_id": p.visitor, "author": "customer", "text": p.text,
                    "created_at": p.created_at}}})
                for agent in tuple(self.agents):
                    await self._send(agent, frame)
            await asyncio.sleep(max(0.0, started + GROUP_COMMIT - loop.time()))

    @staticmethod
    async def _send(ws: web.WebSocketResponse, text: str) -> None:
        if not ws.closed:
            try:
                await ws.send_str(text)
            except ConnectionError:
                return

    async def chat(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        visitor: str | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame.get("type") == "hello":
                visitor = frame.get("visitor_id") or uuid.uuid4().hex
                await ws.send_str(json.dumps({"type": "welcome", "visitor_id": visitor, "history": []}))
            elif frame.get("type") == "message" and visitor is not None:
                self.pending.append(Pending(ws, visitor, frame["client_id"], frame["text"]))
                self.wake.set()
        return ws

    async def login(self, request: web.Request) -> web.Response:
        response = web.json_response({"ok": True})
        response.set_cookie("session", uuid.uuid4().hex)
        return response

    async def agent(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.agents.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.agents.discard(ws)
        return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]

    async def make() -> web.Application:
        ideal = Ideal(path)
        app = web.Application()
        app.router.add_get("/chat/ws", ideal.chat)
        app.router.add_post("/api/login", ideal.login)
        app.router.add_get("/api/ws", ideal.agent)
        app.router.add_get("/healthz", healthz)
        writer = asyncio.create_task(ideal.writer())
        app.on_cleanup.append(lambda _: _stop(writer))
        return app

    web.run_app(make(), host="127.0.0.1", port=port, print=None, access_log=None)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()


if __name__ == "__main__":
    main()
