"""Reading a webhook's body within bounds, before anything trusts it.

A body over ``MAX_BODY_BYTES`` is refused with 413 before it is read whole;
JSON nested deeper than ``MAX_DEPTH`` is refused with 400 before any model
sees it (the parser and every model after it recurse once per level: a few
thousand brackets were a ``RecursionError`` and a 500). So is what Python's
parser takes but JSON is not: ``NaN`` and ``Infinity`` (stored in a message's
extras, they made a row SQLite's JSON functions refuse to read, which failed
its routing and then every start's resume), and a lone UTF-16 surrogate
(``"\ud800"``: no UTF-8 text can hold it, so storing it failed with a 500 on
every redelivery). All these answers are in our words.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from typing import Any

from aiohttp import web

# no platform's update but a VK chain of forwards comes near it (Telegram's are a few KiB, a
# long forwarded chain some hundreds); it is also the app's own request limit
MAX_BODY_BYTES = 1024**2
# A callback's body: VK allows 100 forwarded messages a level and 500 in a chain,
# each of 4,096 characters (6 bytes each when escaped) with its attachments'
# descriptions, so a legitimate message_new can pass 12 MB; one refused is
# retried, and a server that keeps refusing is switched off by VK. Past 1 MiB a
# body is parsed only when it carries the secret (read_body_with_secret).
MAX_SIGNED_BODY_BYTES = 32 * 1024**2
# VK nests forwarded messages, each level a few more: legitimate updates stay far below
MAX_DEPTH = 128
# the escape of a UTF-16 surrogate, which only a pair of them may be (an emoji VK escapes: \ud83d\ude00)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


# bodies past MAX_BODY_BYTES read at once, whoever sends them: such a body is held whole before
# its secret can be looked for, and 16 strangers' 32 MiB bodies at once took the server from
# 0.8 to 1.8 GB. VK's large callbacks are rare: one waits for another, at most LARGE_PATIENCE
MAX_LARGE_AT_ONCE = 2
LARGE_PATIENCE = 30.0
_large_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


# a stranger's refused calls (a wrong secret or signature) logged at most this often per check:
# anyone may call a webhook, and each refusal was a WARNING line of its own
REFUSALS_EVERY = 60.0
_refusals: dict[str, tuple[float, int]] = {}


def log_refusal(logger: logging.Logger, check: str, message: str, *args: object) -> None:
    """``message`` at WARNING, unless ``check`` (a connector's, as "vk main: secret") was logged
    within ``REFUSALS_EVERY`` seconds: then counted, and said with the next line."""
    now = time.monotonic()
    last, quiet = _refusals.get(check, (None, 0))
    if last is not None and now - last < REFUSALS_EVERY:
        _refusals[check] = (last, quiet + 1)
        return
    _refusals[check] = (now, 0)
    logger.warning(message + " (logged at most once a minute%s)", *args,
                   f"; {quiet} more since the last line" if quiet else "")


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, or 413 when it is larger than ``limit`` (said by its
    Content-Length, or found while reading a chunked one)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    return bytes(await _read_into(request, bytearray(), limit))


async def _read_into(request: web.Request, body: bytearray, limit: int, stop_past: int | None = None) -> bytearray:
    """``body`` with the request's next chunks, to ``limit`` (413 past it); it
    returns once ``stop_past`` bytes are passed, the rest left to read."""
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit, len(body))
        if stop_past is not None and len(body) > stop_past:
            break
    return body


async def read_body_with_secret(request: web.Request, secret: str, limit: int = MAX_SIGNED_BODY_BYTES) -> bytes:
    """A body that carries its own secret (VK's Callback API), up to ``limit``.
    One past ``MAX_BODY_BYTES`` is kept only when the secret, as a JSON
    string, is in it: a large body from someone without the secret is
    refused (403) before it is parsed, which costs far more than reading it.
    Such bodies are read ``MAX_LARGE_AT_ONCE`` at a time (503 with
    Retry-After past ``LARGE_PATIENCE``: VK sends a callback again)."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    body = bytearray()
    if request.content_length is None or request.content_length <= MAX_BODY_BYTES:
        body = await _read_into(request, body, limit, stop_past=MAX_BODY_BYTES)
        if len(body) <= MAX_BODY_BYTES:
            return bytes(body)
    turns = _large_reads.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_LARGE_AT_ONCE))
    try:
        async with asyncio.timeout(LARGE_PATIENCE):
            await turns.acquire()
    except TimeoutError:
        raise web.HTTPServiceUnavailable(text="too many large bodies at once: send it again later",
                                         headers={"Retry-After": "5"}) from None
    try:
        body = await _read_into(request, body, limit)
        if not secret or json.dumps(secret).encode() not in body:
            raise web.HTTPForbidden(text="wrong secret")
        return bytes(body)
    finally:
        turns.release()


def _too_large(limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size,
                                         text=f"the body is larger than {limit} bytes")


def nesting_depth(value: Any, stop_at: int | None = None) -> int:
    """How deeply a parsed JSON value's arrays and objects nest, walked
    without recursion; the walk stops once ``stop_at`` is passed."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if stop_at is not None and deepest > stop_at:
            break
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed JSON, or 400 for text that is not JSON or nests too deeply.
    The C parser refuses a nesting bomb at the interpreter's recursion limit
    with a clean ``RecursionError`` (cheaply: it stops there); the walk after
    it holds what passes to ``max_depth``, for the models that recurse next."""
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except _NotJSONNumber as exc:
        raise web.HTTPBadRequest(text=f"the body is not JSON: {exc} is no JSON number") from None
    except ValueError:
        raise web.HTTPBadRequest(text="the body is not JSON") from None
    # no deeper than its brackets: most bodies have fewer than the limit, and skip the walk (~10 µs)
    if body.count(b"[") + body.count(b"{") > max_depth and nesting_depth(value, stop_at=max_depth) > max_depth:
        raise _too_deep(max_depth)
    # only a body that escapes a surrogate can hold a lone one: most have none, and skip the walk
    if _SURROGATE_ESCAPE.search(body) and not all(encodable(text) for text in strings_in(value)):
        raise web.HTTPBadRequest(text="the body is not JSON: it holds a lone UTF-16 surrogate, which is no text")
    return value


class _NotJSONNumber(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJSONNumber(name)


def strings_in(value: Any) -> list[str]:
    """Every string of a parsed JSON value, its objects' keys included, walked without recursion."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def encodable(text: str) -> bool:
    """Whether ``text`` can be UTF-8: ``json.loads`` takes a lone surrogate ("\\ud800") that no UTF-8 text holds."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _too_deep(max_depth: int) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f"the body nests deeper than {max_depth} levels")
