"""Greetings and bot commands, which ask nothing yet, and thanks and goodbyes, which ask nothing more.

Telegram opens every conversation with ``/start`` (the Start button, with a
deep link's parameter after it, ``/start ref_42``), and many customers open
with «Здравствуйте!» or "Hi" alone: the bot greets back and invites the
question (``router.bot.faq``). A greeting before a question («Здравствуйте,
сколько стоит доставка?») is cut off, so the question is matched as if
asked alone: the greeting's words would only blur it.

Words are read as ``router.words`` reads them (lower case, ``ё`` as ``е``,
look-alike letters fixed); a phrase's words must follow one another, with
any punctuation, emoji or spaces between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from router.words import word_spans, words

# the opening of a message that asks nothing yet
GREETINGS: tuple[str, ...] = (
    # Russian
    "здравствуйте", "здравствуй", "здраствуйте", "здрасте", "здрасьте", "привет", "приветик", "приветствую",
    "добрый день", "добрый вечер", "доброе утро", "доброй ночи", "день добрый", "вечер добрый", "утро доброе",
    "доброго дня", "доброго вечера", "доброго утра", "доброго времени суток", "доброго времени", "хай", "салют",
    "алло", "прив", "приветики", "приветос", "здарова", "здорова", "хелло", "хеллоу", "добрый вечерок",
    # Russian typed in Latin letters
    "privet", "zdravstvuyte", "zdravstvuite", "dobryi den", "dobryy den", "dobriy den",
    # English
    "hi", "hello", "hey", "hiya", "howdy", "greetings", "good morning", "good afternoon", "good evening",
    "good day",
)
# after a greeting: whom it is addressed to («Привет, бот!», "Hi there"); cut off with it
ADDRESSED: tuple[str, ...] = (
    "бот", "ботик", "робот", "всем", "всех", "все", "ребята", "друзья", "коллеги", "поддержка", "снова", "еще раз",
    "bot", "there", "all", "everyone", "everybody", "guys", "folks", "team", "support", "again",
)
# after a greeting, what still asks nothing: small talk, a question announced but not asked
ASKS_NOTHING: tuple[str, ...] = (
    "как дела", "как вы", "как ты", "как поживаете", "у меня вопрос", "у меня есть вопрос", "есть вопрос",
    "можно вопрос", "вопрос", "подскажите пожалуйста", "подскажите", "помогите пожалуйста", "помогите",
    "пожалуйста",
    "вы тут", "вы здесь", "есть кто", "есть кто нибудь", "кто нибудь",
    "how are you", "how are you doing", "how is it going", "are you there", "anyone there", "anybody there",
    "i have a question", "i have a quick question",
    "quick question", "a question", "question", "can you help me", "can you help", "help me", "please",
)

# a thanks that asks nothing more («Спасибо!», "thanks a lot"): the bot says "you're welcome"
THANKS: tuple[str, ...] = (
    "спасибо", "спасибо большое", "большое спасибо", "огромное спасибо", "спасибочки", "спасибки", "спс", "сяп",
    "благодарю", "благодарю вас", "благодарствую", "мерси",
    "spasibo", "spasibo bolshoe", "blagodaryu",
    "thanks", "thank you", "thank you very much", "thanks a lot", "many thanks", "thx", "ty", "cheers",
)
# what may stand beside a thanks without asking anything («Спасибо, понятно!», "ok thanks")
CONTENT: tuple[str, ...] = (
    "ок", "окей", "ok", "okay", "хорошо", "понятно", "ясно", "отлично", "супер", "класс", "все понятно",
    "все ясно", "вопросов нет", "больше вопросов нет", "вы мне помогли", "вы очень помогли", "помогли",
    "great", "got it", "perfect", "cool", "all good", "that helps", "that helped", "you helped", "very helpful",
    "nice", "awesome",
)
# a goodbye («Всё, пока», «До свидания», "bye"): with no thanks the bot says goodbye back, not "you're welcome"
GOODBYES: tuple[str, ...] = (
    "пока", "пока пока", "до свидания", "досвидания", "до свиданья", "всего доброго", "всего хорошего",
    "хорошего дня", "хорошего вечера", "до встречи", "до связи",
    "poka", "do svidaniya",
    "bye", "bye bye", "goodbye", "good bye", "see you", "see ya", "have a nice day", "have a good day",
)

# a bot command, "/start" or "/help@shop_bot" (Telegram's syntax: Latin letters, digits and "_")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?![\w/@])")
# /start's deep-link parameter, alone after it (Telegram: up to 64 of A-Z, a-z, 0-9, "_" and "-")
_PAYLOAD = re.compile(r"[ \t]+[A-Za-z0-9_-]{1,64}(?=\s*$)")
# a lone word that may be a name («Здравствуйте, Анна!», "Hi Anna"): capitalised, letters only
_NAME = re.compile(r"^\W*([^\W\d_]+)\W*$")


def _phrases(texts: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each phrase's words, longest first: «добрый день» is tried before a shorter one."""
    return sorted((tuple(words(t)) for t in texts), key=len, reverse=True)


_GREETINGS = _phrases(GREETINGS)
_ADDRESSED = _phrases(ADDRESSED)
_ASKS_NOTHING = _phrases(ASKS_NOTHING + ADDRESSED + GREETINGS)
_THANKS = _phrases(THANKS)
_GOODBYES = _phrases(GOODBYES)
_CONTENT = _phrases(CONTENT)
_CLOSING = _phrases(THANKS + GOODBYES + CONTENT + ADDRESSED)
# a closing word misspelt («спасиб», «спосибо», «благодорю», «досвидание»): one of this length or more,
# this close (rapidfuzz ratio, 0-100) to a closing's word; a message of nothing else asks nothing
_FUZZY_LENGTH = 5
_FUZZY_RATIO = 85
_CLOSING_WORDS = sorted({word for phrase in _CLOSING for word in phrase if len(word) >= _FUZZY_LENGTH})
# a long greeting misspelt («Здрасвуйте», «Здравсвтуйте»): only the long ones, since a short word
# near a greeting is often another word («привез» is one letter from «привет»)
_GREETING_FUZZY_LENGTH = 8
_GREETING_WORDS = sorted({word for phrase in _GREETINGS for word in phrase if len(word) >= _GREETING_FUZZY_LENGTH})


@dataclass(frozen=True, slots=True)
class Opening:
    """How a message opens: ``said`` the greetings and commands it opens
    with (none: it opens with something else), ``rest`` what follows them
    as written, and whether that asks nothing (``asks_nothing``) or is a
    lone word that may be a name (``name``)."""

    said: tuple[str, ...]
    rest: str
    asks_nothing: bool
    name: str | None = None

    @property
    def greeted(self) -> bool:
        return bool(self.said)


def _phrase_at(found: list[tuple[str, int, int]], i: int, phrases: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The longest of ``phrases`` whose words are ``found``'s from ``i`` on, else ()."""
    for phrase in phrases:
        if tuple(w for w, _, _ in found[i:i + len(phrase)]) == phrase:
            return phrase
    return ()


def _gap(text: str, at: int) -> int:
    """Past what may stand between the parts of an opening: spaces, punctuation,
    emoji (not a word's letters, digits or "_", nor "/", which starts a command)."""
    while at < len(text) and not (text[at].isalnum() or text[at] in "_/"):
        at += 1
    return at


def opening(text: str) -> Opening:
    """The greetings and commands ``text`` opens with, and what follows them."""
    found = word_spans(text)
    starts = {start: i for i, (_, start, _) in enumerate(found)}
    said: list[str] = []
    at = 0
    while True:
        at = _gap(text, at)
        if (command := _COMMAND.match(text, at)) is not None:
            said.append(f"/{command.group(1).lower()}")
            at = command.end()
            if said[-1] == "/start" and (payload := _PAYLOAD.match(text, at)) is not None:
                at = payload.end()
            continue
        i = starts.get(at)
        if i is None:
            break
        phrase = _phrase_at(found, i, _GREETINGS) or (_phrase_at(found, i, _ADDRESSED) if said else ())
        if not phrase and (fixed := _misspelt(found[i][0], _GREETING_WORDS, _GREETING_FUZZY_LENGTH)) is not None:
            found[i] = (fixed, *found[i][1:])
            phrase = _phrase_at(found, i, _GREETINGS)
        if not phrase:
            break
        if phrase in _GREETINGS:
            said.append(" ".join(phrase))
        at = found[i + len(phrase) - 1][2]
    rest = text[at:].strip() if said else text
    return Opening(tuple(said), rest, bool(said) and _asks_nothing(rest), _name(rest) if said else None)


def _asks_nothing(rest: str) -> bool:
    """``rest`` is small talk, an announced question or nothing at all."""
    found = word_spans(rest)
    i = 0
    while i < len(found):
        phrase = _phrase_at(found, i, _ASKS_NOTHING)
        if not phrase:
            return False
        i += len(phrase)
    return True


def _name(rest: str) -> str | None:
    match = _NAME.match(rest)
    return match.group(1) if match is not None and match.group(1)[0].isupper() else None


# what a pleased customer sends alone (a thumbs up, a smile), and what joins an emoji's parts
# (skin tones, the emoji presentation selector, the zero-width joiner)
_PLEASED = frozenset("👍👌🙏🤝👏🙌💪✅☺😊🙂😀😃😄😁😉🥰😍🤗❤♥💖💗💙💚🧡💛💜🖤🤍👋🔥💯⭐🌟")
_JOINERS = frozenset("\ufe0f\u200d🏻🏼🏽🏾🏿")


def _only_pleased(text: str) -> bool:
    """``text`` is emoji of a pleased customer and nothing else but spaces and punctuation («👍», "🙏🙂")."""
    shown = [c for c in text if not (c.isspace() or c in _JOINERS or (c.isascii() and not c.isalnum()))]
    return bool(shown) and all(c in _PLEASED for c in shown)


@lru_cache(maxsize=1024)  # a turn asks it of one text up to three times (thanks, goodbye, got it)
def _closing(text: str) -> tuple[bool, bool, bool] | None:
    """Whether ``text`` (nothing but thanks, goodbyes, contentment and whom it
    is addressed to) thanks, says goodbye and says it got it; None when it
    says anything else."""
    found = word_spans(text)
    thanked = parted = content = False
    i = 0
    while i < len(found):
        phrase = _phrase_at(found, i, _CLOSING)
        if not phrase and (fixed := _misspelt(found[i][0], _CLOSING_WORDS, _FUZZY_LENGTH)) is not None:
            found[i] = (fixed, *found[i][1:])
            phrase = _phrase_at(found, i, _CLOSING)
        if not phrase:
            return None
        thanked = thanked or phrase in _THANKS
        parted = parted or phrase in _GOODBYES
        content = content or phrase in _CONTENT
        i += len(phrase)
    return thanked, parted, content


def _misspelt(word: str, vocabulary: list[str], shortest: int) -> str | None:
    """The word of ``vocabulary`` that ``word`` (``shortest`` letters or more) is a typo of, else None."""
    if len(word) < shortest:
        return None
    found = process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=_FUZZY_RATIO)
    return str(found[0]) if found is not None else None


def only_thanks(text: str) -> bool:
    """``text`` thanks and asks nothing more («Спасибо!», «Ок, спасибо, понятно», «Спасибо, до свидания»,
    "thanks a lot"): at least one thanks, and beside it only contentment, a goodbye or whom it is addressed to."""
    said = _closing(text)
    return said is not None and said[0]


def only_content(text: str) -> bool:
    """``text`` says only that the customer got it, with no thanks nor goodbye
    («Ок», «Понятно», «Ясно, хорошо», "got it", «👍»)."""
    if _only_pleased(text):
        return True
    return _closing(text) == (False, False, True)


def only_goodbye(text: str) -> bool:
    """``text`` says goodbye with no thanks and asks nothing more («Всё, пока», «Понятно, до свидания», "bye")."""
    said = _closing(text)
    return said is not None and said[1] and not said[0]


def is_command(text: str) -> bool:
    """``text`` opens with a bot command ("/start", "/start ref_42"): no language's words."""
    return _COMMAND.match(text.strip()) is not None


__all__ = ["ADDRESSED", "ASKS_NOTHING", "CONTENT", "GOODBYES", "GREETINGS", "THANKS", "Opening", "is_command",
           "only_content", "only_goodbye", "only_thanks", "opening"]
