"""The site chat's websocket as aiohttp serves it: the frame size limit, and
what happens to a client whose frame is over it."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

# A longest valid message (MAX_TEXT_LENGTH chars, each JSON-escaped to at most
# 6 bytes, "\uXXXX") still fits, so only abuse hits this limit.
MAX_FRAME_BYTES = 64 * 1024
HEARTBEAT_SECONDS = 30.0
# how long an oversized frame's sender gets to read the close frame before the
# connection is dropped (see ChatSocket)
LINGER_SECONDS = 5.0
TOO_BIG_REASON = f"message too big: frames are limited to {MAX_FRAME_BYTES} bytes".encode()


class ChatSocket(web.WebSocketResponse):
    """aiohttp closes a socket with 1009 as soon as a frame is over the size
    limit; this says why first, in a frame the widget understands and in the
    close frame's reason.

    aiohttp then drops the connection at once, while the rest of the huge
    frame is still arriving: the kernel answers that with a TCP reset, and a
    client still sending may never read the close frame. Here the connection
    is left to the handler, which discards what still comes for a while
    (``linger``) so that the client reads the close frame first."""

    too_big = False

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.closed:
            self.too_big = True
            frame = {"type": "error", "code": "too_large", "message": f"frames are limited to {MAX_FRAME_BYTES} bytes"}
            with contextlib.suppress(ConnectionError):
                await self.send_json(frame)
            message = message or TOO_BIG_REASON
        return await super().close(code=code, message=message, drain=drain)

    def _close_transport(self) -> None:
        if not self.too_big:
            super()._close_transport()

    async def linger(self, request: web.Request) -> None:
        """After the close frame of an oversized frame: say we are done
        writing, let aiohttp discard what the client still sends, and wait
        (boundedly) for the client to hang up, so it ends with a FIN."""
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER_SECONDS
        # aiohttp offers nothing to await here: its reader has failed for good
        while not transport.is_closing() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        transport.close()
