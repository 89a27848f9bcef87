"""The cursor of GET /api/conversations' pages: where a page ended (its last
conversation's activity and id), as an opaque text the client hands back as
``cursor``. A text that is no cursor is a 400 (``bad_list_cursor``), never a
first page in disguise."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from agents_ui.endpoints import ApiError
from agents_ui.instants import in_utc
from router.conversations.store import ListCursor
from router.models import ConversationView


def write_cursor(last: ConversationView) -> str:
    raw = json.dumps([last.last_message_at.isoformat(), last.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(text: str | None) -> ListCursor | None:
    if not text:
        return None
    try:
        at, conv_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        moment = in_utc(datetime.fromisoformat(at))  # a ValueError too when out of the stores' years
        if not isinstance(conv_id, str):
            raise ValueError(text)
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        raise ApiError(400, "bad_list_cursor", "the cursor is not one a page of conversations gave") from None
    return ListCursor(moment, conv_id)
