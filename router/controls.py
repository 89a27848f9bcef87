"""Characters no name or text a person types into the console may hold, by
Unicode category, so every character of a kind is caught, not a list of the
ones somebody thought of: the controls (Cc: NUL above all, which
PostgreSQL's text cannot hold; ESC; DEL; C1), the format characters (Cf: the
bidi marks, embeddings, overrides and isolates, LRM/RLM and the Arabic
letter mark among them, which make a name or text read other than it is
written, an agent "Ann" shown as someone else's name; zero-width
characters), the line and paragraph separators (Zl, Zp), and lone
surrogates (Cs: no UTF-8 can hold one).

What a kind of text needs is allowed explicitly: a multi-line text (a canned
reply) its line breaks and tab (``TEXT``), and the zero-width joiners that
emoji sequences and some scripts are written with; a one-line name (an
agent's display name, a label, a file name) nothing. One check, used by
every slice that takes such text: agents' names, canned replies, labels
(router/search), file names (router/files, which drops them instead), and
customers' names as every connector gives them (``InboundMessage``, which
drops them too, keeping the joiners: a Telegram name is often an emoji
sequence)."""

from __future__ import annotations

import unicodedata

CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# a one-line name: none of them
NAME: frozenset[str] = frozenset()
# ZWNJ/ZWJ, which emoji sequences (👩‍💻) and scripts such as Persian and the Indic ones are
# written with: they join, they never turn text round
JOINERS = frozenset({"\u200c", "\u200d"})
# a multi-line text: its line breaks and tabs, and the joiners
TEXT = frozenset({"\t", "\n", "\r"}) | JOINERS


def is_control(ch: str, allow: frozenset[str] = NAME) -> bool:
    """Whether the character ``ch`` is one of those, unless ``allow`` has it."""
    return ch not in allow and unicodedata.category(ch) in CATEGORIES


def control_character(value: str, allow: frozenset[str] = NAME) -> tuple[str, int] | None:
    """The first such character of ``value`` (not in ``allow``) as ``U+XXXX``
    and its 1-based position, or None when there is none."""
    for position, ch in enumerate(value, 1):
        if is_control(ch, allow):
            return f"U+{ord(ch):04X}", position
    return None


def without_control_characters(value: str, allow: frozenset[str] = NAME) -> str:
    """``value`` with them dropped: for a name taken from elsewhere (a file's),
    kept rather than refused."""
    return "".join(ch for ch in value if not is_control(ch, allow))


def customer_name(name: str | None) -> str | None:
    """A customer's name as a platform, a mail or a form gave it, fit to show: without control
    and format characters (after ``U+202E`` a name reads backwards, another name than the one
    written), the joiners kept; None when nothing is left."""
    if name is None:
        return None
    return without_control_characters(name, JOINERS).strip() or None


# a file's name: what every file system and header takes (NAME_MAX of ext4, NTFS)
MAX_FILE_NAME_LENGTH = 255


def file_name(name: str) -> str:
    """A file's name as another side gave it, fit to show and to save: its last
    path part (never ``../x``), without control and bidi characters (``U+202E``
    turns ``exe.pdf`` round), cut to length keeping its extension; "" when
    nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = without_control_characters(base).strip()
    if not base.strip("."):  # "." and "..": a folder's names, not a file's
        return ""
    if len(base) > MAX_FILE_NAME_LENGTH:
        stem, dot, ext = base.rpartition(".")
        keep = dot and len(ext) < 16
        base = (stem[: MAX_FILE_NAME_LENGTH - len(ext) - 1] + dot + ext) if keep else base[:MAX_FILE_NAME_LENGTH]
    return base


def no_control_characters(value: str) -> str:
    """A pydantic ``AfterValidator`` for a one-line name: ``value``, or
    ``ValueError`` naming the character and where."""
    if (bad := control_character(value)) is not None:
        raise ValueError(f"control character {bad[0]} at {bad[1]}")
    return value
