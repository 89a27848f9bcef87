"""Reading a webhook's body within bounds, before anything trusts it.

A body over ``MAX_BODY_BYTES`` is refused with 413 before it is read whole;
JSON nested deeper than ``MAX_DEPTH`` is refused with 400 before it is parsed
(the parser and every model after it recurse once per level: a few thousand
brackets were a ``RecursionError`` and a 500). Both answers are in our words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

# no platform's update comes near it (Telegram's and VK's are a few KiB, a
# long forwarded chain some hundreds); it is also the app's own request limit
MAX_BODY_BYTES = 1024**2
# VK nests forwarded messages, each level a few more: legitimate updates stay far below
MAX_DEPTH = 128

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, or 413 when it is larger than ``limit`` (said by its
    Content-Length, or found while reading a chunked one)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size,
                                         text=f"the body is larger than {limit} bytes")


def nesting_depth(body: bytes) -> int:
    """How deeply the JSON text's arrays and objects nest (brackets inside
    strings do not count). Malformed text gets some number: the parser
    refuses it next."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed JSON, or 400 for text that is not JSON or nests too deeply."""
    if nesting_depth(body) > max_depth:
        raise web.HTTPBadRequest(text=f"the body nests deeper than {max_depth} levels")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(text="the body is not JSON") from None
