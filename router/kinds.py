"""Names that the command line must know before anything heavy is imported
(``omnirouter rules explain --attachment``, the config files' names): plain
Python, no pydantic."""

from __future__ import annotations

from typing import Literal

AttachmentKind = Literal["image", "document", "audio", "video", "sticker", "location", "other"]

RULES_FILE = "rules.yaml"
TEAMS_FILE = "teams.yaml"

# conversations at once per channel kind, for an agent whose teams.yaml entry or
# console profile gives none (email: a mailbox's kind)
DEFAULT_CAPACITY: dict[str, int] = {"chat": 3, "email": 5}


def default_capacity(kind: str) -> int:
    """An agent's default for ``kind``: a kind of the admin's own (``site``, ``messengers``) is chat's."""
    return DEFAULT_CAPACITY.get(kind, DEFAULT_CAPACITY["chat"])
