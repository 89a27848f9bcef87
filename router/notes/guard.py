"""The send path's last line for invariant 8: a note never reaches a connector.

Notes are kept out of the outbound path by construction (their own table, and
the outbox's foreign key to ``messages``). This is the defence in depth
behind it: the outbox worker asks ``is_note_id`` before every send, so a
future bug that put a note into the outbox under its id is dead-lettered with
the reason instead of being delivered."""

from __future__ import annotations

# every note's id begins so (``router.models.new_id``); no message's does ("msg_")
NOTE_ID_PREFIX = "note"


def is_note_id(message_id: str) -> bool:
    return message_id.startswith(NOTE_ID_PREFIX + "_")
