"""Characters no name or text a person types into the console may hold: the
C0 controls but tab, line feed and carriage return; DEL and the C1 controls
(NUL above all: PostgreSQL's text cannot hold it); and the bidi embeddings,
overrides and isolates, which make a name or text read other than it is
written (an agent "Ann" shown as someone else's name). One check, used by
every slice that takes such text (agents' names, canned replies)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def control_character(value: str) -> tuple[str, int] | None:
    """The first such character of ``value`` as ``U+XXXX`` and its 1-based
    position, or None when there is none."""
    if (bad := _CONTROL.search(value)) is None:
        return None
    return f"U+{ord(bad.group()):04X}", bad.start() + 1


def no_control_characters(value: str) -> str:
    """A pydantic ``AfterValidator``: ``value``, or ``ValueError`` naming the character and where."""
    if (bad := control_character(value)) is not None:
        raise ValueError(f"control character {bad[0]} at {bad[1]}")
    return value
