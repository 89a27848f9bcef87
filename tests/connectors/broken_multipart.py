"""Multipart bodies aiohttp cannot read, each as a browser would never send
it and a client of ours might: shared by the tests of both upload routes
(the site chat's ``/chat/files`` and the console's ``/api/files``)."""

from __future__ import annotations

import pytest

BOUNDARY = "x-broken-boundary"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def body(*headers: bytes) -> bytes:
    """One part with these header lines, then its bytes and the closing boundary."""
    mark = BOUNDARY.encode()
    return b"--" + mark + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + PNG_BYTES + b"\r\n--" + mark + b"--\r\n"


def disposition(name: str, filename: bytes = b"a.png") -> bytes:
    return b'Content-Disposition: form-data; name="' + name.encode() + b'"; filename="' + filename + b'"'


# each was a 500 (aiohttp's BadHttpMessage is no ValueError, which the routes caught)
BROKEN = [
    pytest.param(lambda field: body(disposition(field, b"a\0b.png")), id="nul-in-the-filename"),
    pytest.param(lambda field: body(disposition(field), b"Content-Type image/png"), id="a-header-without-colon"),
    pytest.param(lambda field: body(disposition(field), b"Content-Type: \x01/\x02"), id="a-control-character"),
    pytest.param(lambda field: body(disposition(field, b"a" * 20_000 + b".png")), id="a-header-over-8-kib"),
    # a name in a charset that cannot read it: a UnicodeError from part.name, a 500 on the site chat's route
    pytest.param(lambda field: body(b'Content-Disposition: form-data; name="' + field.encode()
                                    + b"\"; filename*=idna''xn--%00.png"), id="a-name-its-charset-cannot-read"),
]
HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def form(*fields: tuple[str, bytes], file_field: str = "file") -> bytes:
    """A whole body: these plain fields, then the file (``PNG_BYTES``), then the closing boundary."""
    mark = b"--" + BOUNDARY.encode()
    parts = [mark + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value + b"\r\n"
             for name, value in fields]
    return b"".join(parts) + b"\r\n".join((mark, disposition(file_field), b"Content-Type: image/png", b"",
                                            PNG_BYTES)) + b"\r\n" + mark + b"--\r\n"


# A body cut short (its Content-Length true to what was sent): aiohttp ends the
# last part at the body's end as if at its boundary, and the cut file was kept
# and answered 201.
CLOSING = b"\r\n--" + BOUNDARY.encode() + b"--\r\n"
TRUNCATED = [
    pytest.param(lambda whole: whole[: -len(CLOSING)], id="without-the-closing-boundary"),
    pytest.param(lambda whole: whole[: whole.index(PNG_BYTES) + 12], id="cut-inside-the-file"),
]
