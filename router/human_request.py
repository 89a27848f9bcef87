"""The one vocabulary of "let me talk to a person", in Russian and English.

The bot steps aside on it (reason ``asked_for_human``) and the rules test
it (the ``asked_for_human`` fact): both read it here, so a customer who asks
for a person is understood the same way whoever reads the message first.

A phrase is found when each of its words is in the message in any form
(Snowball stems: «позовите человека» ~ «позовите, пожалуйста, человека»,
«менеджера», «сотрудником»), in any order, with a typo in a longer word, typed in
translit or on the wrong keyboard layout. A word that asks on its own («оператор», "agent") is
matched strictly, since it also stands in ordinary questions' words. Swearing
(router.swearing) asks for a person too: an angry customer wants one. Admins
add phrases in ``bot.yaml`` or ``rules.yaml`` (``human_request``): the service adds both lists to this one.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz

from router.keyboard import retyped
from router.swearing import sworn
from router.words import script_of, stem, transliterate, words

# single words that ask for a person on their own, and phrases whose words
# do only together («человек» alone is in «нас пять человек»)
BUILT_IN: tuple[str, ...] = (
    # Russian
    "оператор", "менеджер", "сотрудник", "специалист",
    "позовите человека", "живой человек", "живые люди", "с человеком", "переключите на человека", "нужен человек",
    "хочу человека", "дайте человека",
    "свяжите с поддержкой", "связаться с поддержкой", "соедините с поддержкой", "служба поддержки",
    # «ты бот?»: whoever asks it wants to know whether a person reads them, and would rather one did
    "ты бот", "вы бот", "это бот", "ты робот", "вы робот",
    # English
    "agent", "human", "operator", "representative", "manager",
    "real person", "live person", "real people", "talk to someone", "speak to someone", "talk to somebody",
    "talk with someone", "speak with someone", "talk to a person", "speak to a person", "chat with a person",
    "need a person", "want a person", "contact support", "connect support",
    "are you a bot", "is this a bot", "are you a robot",
)

# a stem of this length or more may differ by a typo (rapidfuzz ratio, 0-100)
_FUZZY_LENGTH = 4
_FUZZY_RATIO = 80


class HumanRequest:
    """Finds a request for a person in a customer's message."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.phrases: tuple[str, ...] = tuple(dict.fromkeys([*BUILT_IN, *extra]))
        split = [words(p) for p in self.phrases]
        # a word that asks on its own is matched strictly: its stem, or an
        # English word as typed («manage» is no «manager», «agency» no «agent»),
        # with at most a letter swapped («humon»); a phrase's words may vary more
        self._single = [w[0] for w in split if len(w) == 1]
        self._stems = [tuple(stem(x) for x in w) for w in split if len(w) > 1]

    def extended(self, extra: Iterable[str]) -> HumanRequest:
        """This vocabulary with more phrases."""
        return HumanRequest([*self.phrases, *extra])

    @staticmethod
    def _has(stems: list[str], wanted: str) -> bool:
        if wanted in stems:
            return True
        if len(wanted) < _FUZZY_LENGTH:
            return False
        return any(fuzz.ratio(wanted, s) >= _FUZZY_RATIO for s in stems if abs(len(s) - len(wanted)) <= 2)

    @staticmethod
    def _is(found: list[str], wanted: str) -> bool:
        if script_of(wanted) == "ru":
            return stem(wanted) in (stem(w) for w in found if script_of(w) == "ru")
        return any(w == wanted or w == wanted + "s" or (
            len(w) == len(wanted) >= 5 and fuzz.ratio(w, wanted) >= _FUZZY_RATIO) for w in found)

    def find(self, text: str) -> str | None:
        """The phrase (as stems) the message asks for a person with, or None;
        typed on the wrong layout («jgthfnjh» for «оператор») too."""
        if (asked := self._find(text)) is not None:
            return asked
        meant = retyped(text)
        return self._find(meant) if meant is not None else None

    def _find(self, text: str) -> str | None:
        found = words(text)
        # swearing is an angry customer's request for a person: a canned answer reads as mockery
        if (word := sworn(found)) is not None:
            return f"swearing: {word}"
        # translit («pozovite operatora») is read as the Russian it spells, exactly: a
        # fuzzy match of a transliterated English word finds Russian words by accident
        spelt = [transliterate(w) for w in found if script_of(w) == "en"]
        for word in self._single:
            if self._is(found, word) or (script_of(word) == "ru" and self._is(spelt, word)):
                return stem(word)
        stems = [stem(w) for w in found]
        spelt_stems = [stem(w) for w in spelt]
        for phrase in self._stems:
            if all(self._has(stems, w) or w in spelt_stems for w in phrase):
                return " ".join(phrase)
        return None


__all__ = ["BUILT_IN", "HumanRequest"]
