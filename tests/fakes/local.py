"""The part every fake platform API shares: a real aiohttp server on a free
local port, started and closed by the test's fixture (``async with``)."""

from __future__ import annotations

from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalServer:
    # the largest request body the fake reads (uploads)
    max_body = 1024**2

    def __init__(self) -> None:
        self._server: TestServer | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application(client_max_size=self.max_body)
        self.routes(app)
        self._server = TestServer(app, port=0)
        await self._server.start_server()
        return self.base_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    # ``async with Fake(...) as fake``: started, and closed however the block ends (a fixture's lifetime)
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def url(self, path: str = "") -> str:
        assert self._server is not None, "start the fake first"
        return str(self._server.make_url(path))

    @property
    def base_url(self) -> str:
        return self.url().rstrip("/")
