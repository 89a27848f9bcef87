"""When a closed queue opens, as the customer reads it: the ``{opens}`` of an
``after_hours_message``, and the text a queue with hours but no message of
its own says (``DEFAULT_AFTER_HOURS``).

The opening is in the calendar's time, which need not be the customer's (a
team in Vladivostok, a customer in Moscow): the default text names the
calendar's zone («часовой пояс: Владивосток», "Vladivostok time"), so
"tomorrow 09:00" is never read as the customer's own 09:00. An admin's own
text says it in its own words (the shipped one: «(по Москве)»).

``{opens}`` says when as a sentence says it, with its own preposition: «в
понедельник в 09:00», «завтра в 09:00», "on Monday at 09:00", "today at
18:00", so «ответим {opens}» / "we answer {opens}" read right (a bare
«ответим понедельник 09:00» did not). A text that puts a preposition of its
own right before it (written for the bare form: "from {opens}", «до
{opens}») still gets the bare one («понедельник 09:00»), as before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_timezone_location

from router.language import written_language
from router.texts import Language, ru_en

# a closed queue whose rules.yaml says nothing still tells the customer when it opens, and in whose time
DEFAULT_AFTER_HOURS = ru_en(
    "Спасибо! Сейчас мы не работаем, коллега ответит здесь же {opens}.",
    "Thank you! We are closed now; a colleague will answer here {opens}.",
)
# the default's opening with the calendar's zone
_IN_ZONE = ru_en("{opens} (часовой пояс: {zone})", "{opens} ({zone} time)")

_TODAY = {"ru": ("сегодня", "завтра"), "en": ("today", "tomorrow")}
_LATER = ru_en("позже", "later")
# «в понедельник»: the day said as when, Monday first (babel names it as a subject: «понедельник», «среда»)
_ON_DAY = {
    "ru": ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье"),
}
# a preposition the text puts right before ``{opens}`` itself ("from {opens}", «до {opens}»): the bare form
_OWN_PREPOSITION = re.compile(
    r"(?:^|\W)(?:from|until|till|after|at|on|by|before|since|to|с|со|до|после|к|ко|в|во|на|от|около)\s*$",
    re.IGNORECASE,
)


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale("en")


def opening(opens: datetime | None, now: datetime, language: str, *, bare: bool = False) -> str:
    """When a queue opens, as a customer reads it, in the calendar's time,
    said as a sentence says when: «сегодня в 09:00», «завтра в 09:00», «в
    субботу в 10:00» within the week, and with its date beyond («в
    понедельник, 11 января, в 09:00»: after the New Year holidays "Monday"
    read as the coming one); "today at 09:00", "on Saturday at 10:00", "on
    Monday 11 January at 09:00". ``bare``: without the prepositions, for a
    text that has its own («сегодня 09:00», «понедельник 11 января 09:00»,
    "Monday 09:00"). Another language (an admin's own text) gets its
    weekday's name and the time, bare."""
    locale = _locale(language)
    if opens is None:
        return _LATER["ru"] if locale.language == "ru" else _LATER["en"]
    days = (opens.date() - now.astimezone(opens.tzinfo).date()).days
    time = str(format_datetime(opens, "HH:mm", tzinfo=opens.tzinfo, locale=locale))
    words = _TODAY.get(locale.language)
    if words is None or bare:
        if words is not None and days in (0, 1):
            return f"{words[days]} {time}"
        pattern = "EEEE HH:mm" if days < 6 else "EEEE d MMMM HH:mm"
        return str(format_datetime(opens, pattern, tzinfo=opens.tzinfo, locale=locale))
    if locale.language == "ru":
        if days in (0, 1):
            return f"{words[days]} в {time}"
        day = _ON_DAY["ru"][opens.weekday()]
        date = str(format_datetime(opens, "d MMMM", tzinfo=opens.tzinfo, locale=locale))
        return f"{day} в {time}" if days < 6 else f"{day}, {date}, в {time}"
    if days in (0, 1):
        return f"{words[days]} at {time}"
    pattern = "EEEE" if days < 6 else "EEEE d MMMM"
    return f"on {format_datetime(opens, pattern, tzinfo=opens.tzinfo, locale=locale)} at {time}"


def _fill(text: str, opens: datetime | None, now: datetime, language: str) -> str:
    """``text`` with each ``{opens}`` filled: bare after a preposition of the text's own."""
    said, bare = opening(opens, now, language), opening(opens, now, language, bare=True)
    return re.sub(r"\{opens\}", lambda m: bare if _OWN_PREPOSITION.search(text, 0, m.start()) else said, text)


def zone_name(opens: datetime, zone: str, language: str) -> str:
    """The calendar's zone as people name it: its city («Владивосток»,
    "New York"); a zone of no place (``UTC``, ``Etc/GMT-3``, whose sign is
    POSIX's, the opposite of what people read) by its offset from UTC at
    the opening («UTC+3»)."""
    if "/" in zone and not zone.startswith("Etc/"):
        return str(get_timezone_location(zone, locale=_locale(language), return_city=True))
    offset = opens.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def after_hours_text(
    message: str | Mapping[str, str] | None, opens: datetime | None, zone: str, now: datetime, language: str
) -> str:
    """The after-hours ``message`` of a queue (one text, one per language, or
    None: the default) for a customer who reads ``language``, ``{opens}``
    filled in the language of the text chosen: one text written in Russian
    says «завтра» to an English reader too, never "tomorrow" inside a
    Russian sentence."""
    if message is None:
        ours: Language = "en" if language == "en" else "ru"  # another one: the first, as localized() does
        when = opening(opens, now, ours)
        if opens is not None:
            when = _IN_ZONE[ours].replace("{zone}", zone_name(opens, zone, ours)).replace("{opens}", when)
        return DEFAULT_AFTER_HOURS[ours].replace("{opens}", when)
    if isinstance(message, str):
        text, language = message, written_language(message.replace("{opens}", " ")) or language
    else:
        language = language if language in message else next(iter(message))
        text = message[language]
    return _fill(text, opens, now, language)


__all__ = ["DEFAULT_AFTER_HOURS", "after_hours_text", "opening", "zone_name"]
