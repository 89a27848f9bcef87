"""A page's websocket routed through the test (Playwright's ``route_web_socket``): passed
through to the service while the line is up; ``cut`` drops the sockets open and refuses new
ones at once (the network or the service gone); ``go_silent`` stops those open now both ways
without closing them (a connection that died without a word: Wi-Fi gone, a laptop's lid shut)."""

from __future__ import annotations

from playwright.async_api import WebSocketRoute


class SocketLine:
    def __init__(self) -> None:
        self.up = True
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.silent: set[int] = set()

    def sent(self, message: str | bytes) -> None:
        """A frame the page sent the service (a test that counts some overrides it)."""

    async def connect(self, ws: WebSocketRoute) -> None:
        if not self.up:
            await ws.close()
            return
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if id(ws) not in self.silent:
                self.sent(message)
                server.send(message)

        def to_page(message: str | bytes) -> None:
            if id(ws) not in self.silent:
                ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)
        self.open.append((ws, server))

    def go_silent(self) -> None:
        self.silent.update(id(page_side) for page_side, _ in self.open)

    async def cut(self) -> None:
        self.up = False
        for page_side, server_side in self.open:
            await server_side.close()
            await page_side.close()
        self.open.clear()
