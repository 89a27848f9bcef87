"""Files to VK the way its upload servers take them, streamed: ask the API
for an upload server, POST the bytes there as multipart, then save what it
answers (https://dev.vk.com/ru/api/upload/overview).

vk-api's ``VkUpload`` posts with requests, which builds the whole multipart
body in memory: a large file of our storage would be held whole (twice) per
send. Here the body goes out piece by piece from ``FileAccess.stream``,
with a Content-Length all the same: the storage knows the file's size, and
aiohttp adds the multipart framing to a part whose size is known (an upload
server, or a proxy before it, may refuse a chunked body or hold it whole to
measure it). The upload server's answer is handed to the
save method untouched, as vk-api does, so a file VK refuses (an MP3, a
program) fails there with VK's own error code."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.payload import AsyncIterablePayload

from connectors.vk_inbound import vk_ref
from router.connector import FileUnavailable, PermanentError, TransientError

# ``VkConnector._call``: an API method, its values, VK's answer (vk_api.ApiError on an error)
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


class _Sized(AsyncIterablePayload):
    """Pieces whose total is known: the request says its Content-Length and still streams them."""

    def __init__(self, pieces: AsyncIterator[bytes], size: int) -> None:
        super().__init__(pieces, content_type="application/octet-stream")
        self._known = size

    @property
    def size(self) -> int:
        return self._known


async def upload_photo(call: Call, peer_id: int, name: str, pieces: AsyncIterator[bytes], size: int,
                       limits: aiohttp.ClientTimeout) -> str:
    """``photo<owner>_<id>`` (with its access key) for messages.send; ``size``: the bytes' total."""
    server = await call("photos.getMessagesUploadServer", {"peer_id": peer_id})
    answer = await _post(server["upload_url"], "photo", name, _Sized(pieces, size), limits)
    [photo] = await call("photos.saveMessagesPhoto", answer)
    return vk_ref("photo", photo)


async def upload_document(call: Call, peer_id: int, name: str, pieces: AsyncIterator[bytes], size: int,
                          limits: aiohttp.ClientTimeout) -> str:
    """``doc<owner>_<id>`` for messages.send; the document is titled ``name``; ``size``: the bytes' total."""
    server = await call("docs.getMessagesUploadServer", {"type": "doc", "peer_id": peer_id})
    answer = await _post(server["upload_url"], "file", name, _Sized(pieces, size), limits)
    saved = await call("docs.save", {**answer, "title": name})
    return vk_ref("doc", saved[saved["type"]])


def _storage_fault(exc: BaseException) -> FileUnavailable | None:
    """The storage's failure behind an upload's error (aiohttp wraps what the
    body's pieces raise in a connection error), if it was one."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, FileUnavailable):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


async def one_piece(body: bytes) -> AsyncIterator[bytes]:
    """Bytes already in memory (a fetched URL's) as the pieces the uploads take."""
    yield body


async def _post(url: str, field: str, name: str, pieces: _Sized, limits: aiohttp.ClientTimeout) -> dict[str, Any]:
    with aiohttp.MultipartWriter("form-data") as form:
        part = form.append_payload(pieces)
        # the name in UTF-8 as browsers send it (HTML5), for whom the upload servers are made: aiohttp's
        # default percent-encodes it; line breaks and other controls dropped, they would end the header
        safe = "".join(c for c in name if c >= " " and c != "\x7f") or "file"
        part.set_content_disposition("form-data", quote_fields=False, name=field, filename=safe)
    try:
        async with aiohttp.ClientSession(timeout=limits) as http, \
                http.post(url, data=form) as resp:
            text = await resp.text()
            status = resp.status
    except FileUnavailable as exc:  # raised through, or wrapped below: either way the storage's
        raise (TransientError if exc.transient else PermanentError)(f"vk: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        stored = _storage_fault(exc)
        if stored is not None:  # our storage failed half-way, not VK: gone for good is no retry's
            raise (TransientError if stored.transient else PermanentError)(f"vk: {stored}") from None
        # aiohttp's text would carry the upload URL, whose query holds VK's one-time key
        raise TransientError(f"vk: the upload server failed: {type(exc).__name__}") from None
    if status >= 500:
        raise TransientError(f"vk: the upload server answered {status}")
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict):
        raise PermanentError(f"vk: the upload server answered {status} with no JSON object")
    return answer
