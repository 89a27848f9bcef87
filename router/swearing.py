"""Swearing, in Russian (мат and its milder kin) and English.

A customer who swears at the bot («заебали, верните деньги», «какого хрена
заказ не пришёл», "wtf where is my fucking order") is angry: a canned answer
then reads as mockery. The vocabulary of asking for a person
(router.human_request) counts swearing as such a request, so the rules'
``asked_for_human`` and the bot both hand the conversation to people.

Russian swearing is made of a few roots with many prefixes and endings
(«заебали», «выёбываться», «охуели», «нихуя», «распиздяи»): it is matched by
root, on the words as ``router.words`` reads them (lower case, ``ё`` as
``е``, look-alike Latin letters fixed, a stretched letter read once). The
profanity lists on PyPI match whole words of a list (glin-profanity's
Russian one has «бардак», «мент», «какая разница» and lacks «заебали»,
«блять»; check-swear is a scikit-learn model), so the roots are kept here.
"""

from __future__ import annotations

import re

from router.words import words

# each pattern is matched against one whole word
_RUSSIAN = re.compile(
    r"\w*пизд\w*"
    # хуй, хуёво, охуели, нихуя, хуита; not «страхуйте» (страховать)
    r"|(?!\w*страху)\w*ху[йеяию]\w*"
    # ебать with its prefixes: заебали, выебываться, отъебись, уебок, долбоеб, ебаный, еблан
    r"|(?:за|на|у|вы|от|отъ|съ|до|про|по|раз|разъ|въ|подъ|изъ|объ|при|долбо|недо|пере)?еб(?:а|у|л|н|и|ы|ет|ок|уч)\w*"
    r"|бля|блять|блядь|бляд\w*|блеать"
    r"|муд(?:ак|ач|ил|озв|ло)\w*|п[ие]д[оа]р\w*|педик\w*|г[ао]ндон\w*|залуп\w*|шлюх\w*|сучк\w*|сучар\w*"
    r"|сука|суки|сукин\w*"
    # the milder: охренели, нахрен, какого хрена; говно, дерьмо
    r"|(?:о|на|по|за|ни)хрен\w*|хрена|хрень|говн\w*|дерьм\w*"
)
_ENGLISH = re.compile(
    r"\w*fuck\w*|shit\w*|bullshit\w*|wtf|stfu|asshole\w*|bitch\w*|bastard\w*|dickhead\w*|crap|crappy|damn\w*"
)


def sworn(found: list[str]) -> str | None:
    """The first of ``found`` (words as ``router.words`` reads them) that swears, or None."""
    for word in found:
        if (_RUSSIAN if "а" <= word[0] <= "я" else _ENGLISH).fullmatch(word):
            return word
    return None


def swearing(text: str) -> str | None:
    """The first word of ``text`` that swears, or None."""
    return sworn(words(text))


__all__ = ["swearing", "sworn"]
