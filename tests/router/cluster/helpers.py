"""What the cluster's tests share: jobs that tell who runs them and whether
two ever ran at once, and a look at the server's sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from router.cluster.contract import Job
from router.cluster.postgres_leadership import PgLeadership


class Jobs:
    """Singleton jobs that record which node runs them."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.most_at_once = 0
        self.starts: list[str] = []

    def job(self, node: str) -> Job:
        async def run() -> None:
            self.running.add(node)
            self.starts.append(node)
            self.most_at_once = max(self.most_at_once, len(self.running))
            try:
                await asyncio.Event().wait()
            finally:
                self.running.discard(node)
        return run


def fast(dsn: str, node: str) -> PgLeadership:
    """A leadership that ticks often, so the tests take seconds, not minutes."""
    return PgLeadership(dsn, node, tick=0.1, takeover_grace=0.3)


@asynccontextmanager
async def admin(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def session_of(conn: asyncpg.Connection, node: str) -> int | None:
    """The server's pid of ``node``'s leadership session, if it has one."""
    pid: int | None = await conn.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", f"omnirouter {node} leadership")
    return pid


async def kill_session(conn: asyncpg.Connection, node: str) -> None:
    """The server ends ``node``'s leadership session (as when its node dies)."""
    pid = await session_of(conn, node)
    assert pid is not None, f"{node} has no leadership session"
    assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)


class Link:
    """A TCP proxy between a node and the database whose traffic can be held
    (a link gone silent: no error, no answer) and then cut on the server's
    side (as the server's TCP keepalive gives up on the client)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._server: asyncio.Server | None = None
        self._upstreams: list[asyncio.StreamWriter] = []
        self._listen = 0  # the port the node connects to, once started

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._listen)
        self._listen = self._server.sockets[0].getsockname()[1]
        return self._listen

    def refuse(self) -> None:
        """The database goes down as ``pg_ctl stop`` takes it: the node's
        connections are ended and new ones refused, until ``start`` again
        (on the same port)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.cut()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def hold(self) -> None:
        self.flowing.clear()

    def cut(self) -> None:
        for writer in self._upstreams:
            writer.close()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(self.host, self.port)
        self._upstreams.append(server_writer)
        await asyncio.gather(self._pump(client_reader, server_writer), self._pump(server_reader, client_writer),
                             return_exceptions=True)
        client_writer.close()
        server_writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self.flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.close()
