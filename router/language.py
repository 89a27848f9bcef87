"""The language a customer is answered in: Russian or English.

Our texts come in Russian and English; telling them apart by script is
enough and costs nothing (a language detector would guess wrong on the
two-word messages customers send). A message with no letters ("5", "👍",
a phone number, a photo, "/start") says nothing of its language, so it is
answered in the conversation's: the words before it, then what the channel
knows (Telegram's app language, the site page's), then Russian, the
market's first language. Before, such a message was answered in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from router.keyboard import retyped
from router.models import Customer, Message

Language = Literal["ru", "en"]
# this market's first language: what a customer who has said nothing in words is answered in
DEFAULT_LANGUAGE: Language = "ru"

# a text's start shows its script: a 4,000-letter mail need not be counted whole on every message
_SAMPLE = 400
# what is not a letter of the script, taken out: the length left is the count (twice findall's speed)
_NOT_CYRILLIC = re.compile(r"[^а-яёА-ЯЁ]+")
_NOT_LATIN = re.compile(r"[^a-zA-Z]+")
# a bot command (Telegram's "/start", "/help@shop_bot") is the platform's word, not the customer's, and
# so is the deep link's parameter after /start, alone at the end ("/start ref_42": A-Z, a-z, 0-9, _ and -)
_COMMANDS = re.compile(r"(?<!\S)/(?:start(?:@[A-Za-z0-9_]+)?[ \t]+[A-Za-z0-9_-]{1,64}(?=\s*$)"
                       r"|[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)")
# languages whose speakers here read Russian far more often than English (ISO 639-1)
_READS_RUSSIAN = frozenset({"ru", "uk", "be", "kk", "ky", "uz", "tg", "tk", "hy", "az", "ka", "mo", "os", "tt", "ba",
                            "cv", "ce", "sah"})
_TAG = re.compile(r"[a-z]{2,3}")
# what a CRM or an admin writes into a profile's ``language`` instead of a code
_NAMES: dict[str, Language] = {"russian": "ru", "русский": "ru", "рус": "ru", "rus": "ru",
                               "english": "en", "английский": "en", "англ": "en", "eng": "en"}


# an address, a link, a domain: Latin whatever the language around it («моя почта anna.petrova@mail.ru»
# was answered in English); only looked for where the text has an "@" or a "." before a Latin letter
_MAY_HOLD_ADDRESS = re.compile(r"@|\.[a-zA-Z]")
_ADDRESSES = re.compile(r"\S+@\S+|\b[a-z][a-z0-9+.-]*://\S+|\b(?:[a-z0-9-]+\.)+[a-z]{2,}\b(?:/\S*)?",
                        re.IGNORECASE)


def written_language(text: str) -> Language | None:
    """``ru`` when at least a third of the text's letters are Cyrillic, ``en``
    when fewer are, unless its Latin words are Russian ones transliterated
    («dostavka skolko stoit») or typed on the wrong layout («ghbdtn»: the
    other way round too, router.keyboard); None when it has no letters. Addresses, links
    and bot commands are no words. Russian text carries Latin words (brands,
    models, codes: «Хочу iPhone 15 Pro Max»); English text seldom carries Cyrillic."""
    text = text[:_SAMPLE]
    if "/" in text:
        text = _COMMANDS.sub(" ", text)
    if _MAY_HOLD_ADDRESS.search(text):
        text = _ADDRESSES.sub(" ", text)
    cyrillic = len(_NOT_CYRILLIC.sub("", text))
    latin = len(_NOT_LATIN.sub("", text))
    if not cyrillic and not latin:
        return None
    if not (cyrillic and latin) and retyped(text) is not None:
        # typed on the other layout («ghbdtn» is «привет», «руддщ» "hello"): the language meant
        return "en" if cyrillic else "ru"
    if 2 * cyrillic >= latin:
        return "ru"
    return "ru" if transliterated(text) else "en"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Russian typed in Latin letters (a phone without the Cyrillic layout: «soedinite s operatorom»): words
# that only Russian has, in the spellings people use, and letter groups English words hardly have
_TRANSLIT_WORDS = _words("""
privet poka svidaniya zdravstvuyte zdravstvuite zdravstvujte zdrastvuyte zdrastvuite dobryy dobryi dobriy dobrij dobroe
dobrogo vecher utro spasibo spasib pozhaluysta pozhaluista pozhalujsta pojaluysta pozhalsta plz
skolko stoit stoimost tsena cena dostavka dostavku dostavki dostavkoy dostavlyaete zakaz zakaza zakazu
zakazal zakazala zakazat vozvrat vozvrata vernut vernite tovar tovara tovary gde kogda pochemu zachem
kak chto shto eto mne menya moy moi moya moyu moego nuzhno nado mozhno mogu khochu hochu kupit oplata oplatu
oplatit oplatil kartoy dengi deneg rubley sdelat pozovite pozvat soedinite soedinit operatora operatorom
operatoru chelovek cheloveka cheloveku menedzher menedzhera net da ne vy vas vam ya est byl bylo budet
segodnya zavtra vchera rabotaete rabotayete adres magazin magazina nomer skidka skidku aktsiya akciya
poluchit poluchil poluchila prishel prishlo prishla srok sroki dney dnya nedelyu pomogite pomoch podskazhite
skazhite ponyatno khorosho horosho ladno ochen uzhe eshche eshe esche seychas sejchas zhdu zhdem otvet otveta
otvette privezut privezete dobavit otmenit otmena
""")
# English words a transliteration never is: one of them and the text is English
_ENGLISH_WORDS = _words("""
the an is are am was were be been to of and or in on at for with from by my your you me we it its this
that can could do does did have has how what where when why who which please hi hello hey thanks thank
yes not will would there here get want need order delivery return price cost help
""")
_LATIN_WORD = re.compile(r"[a-zA-Z]{2,}")
_RUSSIAN_LETTERS = re.compile(r"zh|kh|shch|ts[yia]|[^aeiou]yy|iye$|aya$|ogo$|yu$", re.IGNORECASE)


def transliterated(text: str) -> bool:
    """Whether ``text``'s Latin words are Russian ones in Latin letters: no English word
    among them, and a Russian word or letter groups English words hardly have."""
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if not words or any(w in _ENGLISH_WORDS for w in words):
        return False
    return any(w in _TRANSLIT_WORDS for w in words) or 2 * sum(
        1 for w in words if _RUSSIAN_LETTERS.search(w)) > len(words)


def language_named(value: object) -> Language | None:
    """Ours of a language tag as platforms and browsers give it ("ru", "en-US",
    "uk", "de") or a name a person wrote ("Русский", "English"): Russian for
    the languages whose speakers here read it, English for any other; None
    for what names no language."""
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if word in _NAMES:
        return _NAMES[word]
    primary = word.replace("_", "-").split("-", 1)[0]
    if not _TAG.fullmatch(primary):
        return None
    return "ru" if primary in _READS_RUSSIAN else "en"


def answer_language(message: Message, customer: Customer | None, earlier: Iterable[Message] = ()) -> Language:
    """The language to answer ``message`` in: the customer's profile
    (``language``, a CRM's or an admin's), else the message's words, else the
    conversation's words before it (``earlier``, newest first: the customer's,
    the bot's or an agent's), else the channel's hint (``core.language``),
    else Russian."""
    return choose_language(message.text, customer, earlier, message.core.language)


def choose_language(text: str, customer: Customer | None, earlier: Iterable[Message], hint: str | None) -> Language:
    """``answer_language`` of words not yet a message (the bot's turn of several)."""
    profile = language_named(customer.attributes.get("language")) if customer is not None else None
    if profile is not None:
        return profile
    if (written := written_language(text)) is not None:
        return written
    for before in earlier:
        if before.core.automatic or before.core.verification:
            continue  # our own notices are in the language we chose, not a sign of theirs
        if (written := written_language(before.text)) is not None:
            return written
    return language_named(hint) or DEFAULT_LANGUAGE


def settled(message: Message, language: Language) -> Message:
    """``message`` carrying ``language`` as its ``core.language`` where its own
    words do not tell it: the steps after (a notice, a greeting) answer in it
    without reading the conversation again."""
    if written_language(message.text) is not None or message.core.language == language:
        return message
    return message.model_copy(update={"core": message.core.model_copy(update={"language": language})})


def needs_history(message: Message, customer: Customer | None) -> bool:
    """Whether ``answer_language`` of ``message`` would read the conversation
    before it: neither the profile nor its words tell its language."""
    profile = customer.attributes.get("language") if customer is not None else None
    return language_named(profile) is None and written_language(message.text) is None
