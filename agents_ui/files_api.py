"""Files in the console: an agent uploads one (``POST /api/files``, multipart,
streamed to the storage) and replies with its id; the console shows a stored
file (``GET /api/files/{id}``: images inline, everything else downloaded);
a platform or a visitor fetches one by a signed link (``GET /api/files/{id}/signed``),
without a login until the link expires."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from agents_ui.endpoints import ApiError, current_agent, endpoint
from router.appkeys import FILES, STORE
from router.connector import FileRefused, FileUnavailable
from router.files.blobs import CHUNK
from router.files.names import content_disposition, fit_name
from router.files.service import Files
from router.files.types import StoredFile
from router.models import Attachment
from router.store.errors import NotFound

log = logging.getLogger(__name__)

FIELD = "file"
MAX_FILES = 10
# how far back a conversation's messages are read for files an agent may send again
THREAD_FILES = 1000


class FileOut(BaseModel):
    file: StoredFile
    # where the console shows it
    url: str


class FileLimits(BaseModel):
    max_bytes: int
    # content types as sniffed from the bytes
    allowed_types: list[str]


class DownloadQuery(BaseModel):
    # the message the console shows the file in: another agent's file is served only as part of one
    message: Annotated[str | None, Field(max_length=64)] = None


class LinkQuery(BaseModel):
    expires: int
    sig: Annotated[str, Field(min_length=1, max_length=64)]


async def part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk
    if not part.at_eof():  # aiohttp ends a part at the body's end as at its boundary: a cut upload
        raise ApiError(400, "bad_multipart", "the body ended inside the file, before its closing boundary: "
                       "the upload was cut short and nothing is kept")


async def file_part(request: web.Request, field: str = FIELD) -> BodyPartReader:
    """The multipart body's part named ``field``, unread (the fields before it are skipped)."""
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", f"send the file as multipart/form-data, in a field {field!r}")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == field:
                return part
    except (ValueError, AssertionError, HttpProcessingError) as exc:  # aiohttp's words for a broken multipart body
        said = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
        raise ApiError(400, "bad_multipart", f"the multipart body could not be read: {said}") from None
    raise ApiError(422, "invalid", f"{field}: the body has no file in a field {field!r}")


def refused(exc: FileRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, details=exc.details)


def _sending_own_origin(request: web.Request) -> None:
    """A multipart body needs no CORS preflight, so a page of another site
    could post one: the session cookie is SameSite=Strict, and a browser's
    Origin, when it sends one, must be ours as well."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1].rstrip("/").lower() != request.host.lower():
        raise ApiError(403, "forbidden", "uploads are taken from the console's own pages only")


@endpoint("POST", "/api/files", "Upload a file to attach to a reply (multipart/form-data, field \"file\")",
          response=FileOut, status=201, upload=FIELD, errors=(
              (400, "the multipart body is broken"), (403, "posted from another site's page"),
              (413, "(code file_too_large) over the size limit: nothing is stored"),
              (422, "the body has no part named \"file\""),
              (415, "(code file_type_not_allowed / file_type_forged) a type that is not allowed, or contents "
                    "that are not what the name or type says (an .exe named photo.jpg); or not multipart"),
              (503, "the file storage is unavailable")))
async def upload(request: web.Request, _: None) -> FileOut:
    _sending_own_origin(request)
    part = await file_part(request)
    files = request.app[FILES]
    try:
        stored = await files.accept(part_chunks(part), part.filename, part.headers.get("Content-Type"),
                                    f"agent:{current_agent(request).id}")
    except FileRefused as exc:
        raise refused(exc) from None
    except FileUnavailable as exc:
        raise ApiError(503, "files_unavailable", str(exc), {"Retry-After": "5"}) from None
    return FileOut(file=stored, url=f"/api/files/{stored.id}")


@endpoint("GET", "/api/file-limits", "What an upload may be: its size limit and the types allowed",
          response=FileLimits)
async def limits(request: web.Request, _: None) -> FileLimits:
    config = request.app[FILES].config
    return FileLimits(max_bytes=config.max_bytes, allowed_types=config.allowed_types)


async def attachments_of(request: web.Request, file_ids: list[str]) -> list[Attachment]:
    """A reply's files, in the order given: ``ApiError`` 422 naming one that
    does not exist, or that this agent may not send: only their own uploads,
    and files already in a message of this conversation (a customer's, a
    colleague's reply), so a file id seen elsewhere is no way to another's file."""
    if not file_ids:
        return []
    app = request.app
    found = {f.id: f for f in await app[FILES].store.get_files(file_ids)}
    mine = f"agent:{current_agent(request).id}"
    if any(f.uploaded_by != mine for f in found.values()):
        shown = {a.file for m in await app[STORE].list_messages(request.match_info["id"], THREAD_FILES)
                 for a in m.attachments if a.file}
        found = {i: f for i, f in found.items() if f.uploaded_by == mine or i in shown}
    missing = [i for i in file_ids if i not in found]
    if missing:
        raise ApiError(422, "file_not_found", f"files: no such file {missing[0]}", details={"file": missing[0]})
    return [found[i].attachment() for i in dict.fromkeys(file_ids)]


async def serve(request: web.Request, files: Files, stored: StoredFile, *,
                true_type: bool = False) -> web.StreamResponse:
    """The bytes, shown only if an image (anything else is a download the
    browser never renders: no HTML or script ever runs from a stored file).
    ``true_type``: a non-image says its sniffed type (a platform fetching a
    signed link, Twilio, checks it against the media), still as a download.
    A HEAD gets the headers alone (Twilio asks before it fetches)."""
    try:
        chunks = files.chunks(stored)
        first = await anext(chunks)
    except FileUnavailable as exc:
        log.warning("files: %s not served: %s", stored.id, exc)
        status = 503 if exc.transient else 410
        raise ApiError(status, "files_unavailable" if exc.transient else "file_gone", str(exc)) from None
    disposition = "inline" if stored.inline else "attachment"
    # a name written before names were fitted to types (photo.jpg.html) is fitted here too
    name = fit_name(stored.name, stored.content_type)
    response = web.StreamResponse(headers={
        "Content-Type": stored.content_type if stored.inline or true_type else "application/octet-stream",
        "Content-Length": str(stored.size),
        "Content-Disposition": content_disposition(disposition, name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=3600",
    })
    try:
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    finally:
        await chunks.aclose()
    return response


@endpoint("GET", "/api/files/{id}", "A stored file (images inline, anything else as a download): the agent's "
          "own upload, a customer's, or another agent's as part of the message given", query=DownloadQuery,
          response_description="the file's bytes", errors=(
              (404, "(code file_not_found) no such file, or another agent's not in the message given"),
              (410, "the file's bytes are gone from the storage"), (503, "the file storage is unavailable")))
async def download(request: web.Request, query: DownloadQuery) -> web.StreamResponse:
    files = request.app[FILES]
    file_id = request.match_info["id"]
    try:
        stored = await files.get(file_id)
        if not await _may_see(request, stored, query.message):
            raise NotFound(file_id)
    except NotFound:
        raise ApiError(404, "file_not_found", f"no such file {file_id}", details={"file": file_id}) from None
    return await serve(request, files, stored)


async def _may_see(request: web.Request, stored: StoredFile, message_id: str | None) -> bool:
    """An agent's file is another agent's only once sent: an unsent draft is its uploader's alone."""
    if not stored.uploaded_by.startswith("agent:") or stored.uploaded_by == f"agent:{current_agent(request).id}":
        return True
    if message_id is None:
        return False
    message = await request.app[STORE].get_message(message_id)
    return any(a.file == stored.id for a in message.attachments)


@endpoint("GET", "/api/files/{id}/signed", "A stored file by a signed link (no login: platforms, visitors)",
          query=LinkQuery, public=True, response_description="the file's bytes",
          errors=((403, "the link is forged or expired"), (410, "the file's bytes are gone from the storage"),
                  (503, "the file storage is unavailable")))
async def signed_download(request: web.Request, query: LinkQuery) -> web.StreamResponse:
    files = request.app[FILES]
    file_id = request.match_info["id"]
    if not await files.link_valid(file_id, query.expires, query.sig):
        raise ApiError(403, "link_invalid", "the link is forged or has expired")
    return await serve(request, files, await files.get(file_id), true_type=True)
