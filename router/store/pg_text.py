"""What PostgreSQL cannot store: U+0000 (NUL) in ``text``, and its JSON escape
``\\u0000`` in ``jsonb``. SQLite stores both, and the platforms send them (an
email's body or subject, a webhook's JSON, a CRM's attribute): refused,
the message was a 500 and a poller fetched the same mail for ever, stuck.

Every value a PostgreSQL connection of ours sends goes through these codecs
(``register``, on each new connection of a pool), so no statement can miss
them: a NUL becomes U+FFFD, the replacement character, as text decoders
show bytes they cannot read. The codecs are binary, as ``COPY``
(``copy_records_to_table``) needs; asyncpg's own would do the same work in
C, these add a Python call per value (~0.1 µs, next to a round trip's
~100 µs). Arrays of ``text`` keep asyncpg's own codec: they carry ids only.

SQLite is left to store what it is given: it can, and a rule there would be
the sqlite3 module's global adapter for every ``str`` parameter of every
statement, while its JSON is ``TEXT``, where an escape cannot be told from
a customer's backslash."""

from __future__ import annotations

import re
from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"
# ``\u0000`` after an even number of backslashes: an escape, not a customer's backslash and text
_ESCAPED_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_JSONB_VERSION = b"\x01"  # jsonb's binary format: a version byte, then the JSON text


def storable_text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT)


def storable_json(text: str) -> str:
    """JSON text ``jsonb`` takes: a NUL escaped (``\\u0000``) or not, as U+FFFD's escape."""
    if "\\u0000" in text:
        text = _ESCAPED_NUL.sub(r"\1\\ufffd", text)
    return storable_text(text)


def _text_in(value: Any) -> Any:
    # anything but a str is asyncpg's to refuse (a DataError), as its own codec does
    return storable_text(value).encode() if isinstance(value, str) else value


def _jsonb_in(value: Any) -> Any:
    return _JSONB_VERSION + storable_json(value).encode() if isinstance(value, str) else value


def _jsonb_out(data: bytes) -> str:
    # as asyncpg's own: the JSON text (the mappers json.loads it)
    return data[1:].decode()


async def register(conn: Any) -> None:
    """The codecs on one connection (a pool's ``init``)."""
    await conn.set_type_codec("text", schema="pg_catalog", encoder=_text_in, decoder=bytes.decode, format="binary")
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=_jsonb_in, decoder=_jsonb_out, format="binary")
