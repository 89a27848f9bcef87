"""When a closed queue opens, as the customer reads it: the ``{opens}`` of an
``after_hours_message``, and the text a queue with hours but no message of
its own says (``DEFAULT_AFTER_HOURS``).

The opening is in the calendar's time, which need not be the customer's (a
team in Vladivostok, a customer in Moscow): the default text names the
calendar's zone («часовой пояс: Владивосток», "Vladivostok time"), so
"tomorrow 09:00" is never read as the customer's own 09:00. An admin's own
text says it in its own words (the shipped one: «(по Москве)»)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_timezone_location

from router.language import written_language
from router.texts import Language, ru_en

# a closed queue whose rules.yaml says nothing still tells the customer when it opens, and in whose time
DEFAULT_AFTER_HOURS = ru_en(
    "Спасибо! Сейчас мы не работаем, коллега ответит здесь же в рабочее время: {opens}.",
    "Thank you! We are closed now; a colleague will answer here when we open: {opens}.",
)
# the default's opening with the calendar's zone
_IN_ZONE = ru_en("{opens} (часовой пояс: {zone})", "{opens} ({zone} time)")

_TODAY = {"ru": ("сегодня", "завтра"), "en": ("today", "tomorrow")}
_LATER = ru_en("позже", "later")


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale("en")


def opening(opens: datetime | None, now: datetime, language: str) -> str:
    """When a queue opens, as a customer reads it, in the calendar's time:
    «сегодня 09:00», «завтра 09:00», «суббота 10:00» within the week, and
    with its date beyond («понедельник 11 января 09:00»: after the New Year
    holidays "Monday" read as the coming one)."""
    locale = _locale(language)
    if opens is None:
        return _LATER["ru"] if locale.language == "ru" else _LATER["en"]
    days = (opens.date() - now.astimezone(opens.tzinfo).date()).days
    words = _TODAY.get(locale.language)  # another language (an admin's own text): its weekday's name
    if words is not None and days in (0, 1):
        return f"{words[days]} {format_datetime(opens, 'HH:mm', tzinfo=opens.tzinfo, locale=locale)}"
    pattern = "EEEE HH:mm" if days < 6 else "EEEE d MMMM HH:mm"
    return str(format_datetime(opens, pattern, tzinfo=opens.tzinfo, locale=locale))


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
    return text.replace("{opens}", opening(opens, now, language))


__all__ = ["DEFAULT_AFTER_HOURS", "after_hours_text", "opening", "zone_name"]
