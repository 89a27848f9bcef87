"""Reading a typed answer to the survey: a number, or stars.

A rating is a short message (at most ``MAX_TYPED`` characters) whose only
number is the score, maybe "out of 5" (or "of 10": "10/10" is a number
outside 1-5, asked again), with no words but those people add to a rating
("5 звёзд, спасибо!", "Оценка 4", "5 stars, thanks"). Anything else (a
question, "order 3") is not a rating."""

from __future__ import annotations

import re

MAX_TYPED = 40
_DENOMINATOR = re.compile(r"(?:/|\bиз\b|\bout\s+of\b|\bof\b)\s*(?:5|10)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+")
# the beginnings of the words a rating is said with, in Russian and English
_STEMS = ("звезд", "звёзд", "звезды", "оценк", "спасиб", "балл", "star", "thank", "point", "rating")
_WORDS = frozenset({"thx", "ty", "my", "моя", "мой", "ставлю", "you", "вам", "большое", "so", "much", "i", "give",
                    "a", "it", "is", "на", "это", "вот"})
_STARS = frozenset("★⭐🌟")


def typed_score(text: str) -> int | None:
    """The number the customer typed (maybe outside 1-5: the caller re-asks),
    or None when the message is something else (words, a question)."""
    stars = "".join(text.split()).replace("\ufe0f", "")
    if stars and set(stars) <= _STARS:
        return len(stars)
    if len(text) > MAX_TYPED or "?" in text:
        return None
    bare = _DENOMINATOR.sub(" ", text)
    numbers = _NUMBER.findall(bare)
    if len(numbers) != 1 or len(numbers[0]) > 3:
        return None
    words = (w.lower() for w in _WORD.findall(bare))
    if not all(w in _WORDS or w.startswith(_STEMS) for w in words):
        return None
    return int(numbers[0])


MAX_COMMENT = 300


def is_comment(text: str, has_files: bool) -> bool:
    """Is a message written after the comment prompt its comment? Only short
    plain words: no file, at most ``MAX_COMMENT`` characters, no question
    mark. Anything else is a new request, routed as any message."""
    words = text.strip()
    return bool(words) and not has_files and len(words) <= MAX_COMMENT and "?" not in words
