"""What a customer who writes while a queue is closed reads about its next
opening: in the calendar's time, with that time's zone named where the
service words the text itself, and in the language of the text around it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.routing.rules.engine import load_rules
from tests.router.routing.rules.conftest import write_config

TEAMS = """\
teams:
  support: {}
agents: []
"""

# a queue with hours and no after_hours_message of its own: the service's default text
DEFAULT_TEXT = """\
calendars:
  office:
    timezone: {zone}
    hours: {{mon-fri: ["09:00-18:00"]}}
queues:
  support: {{hours: office}}
rules: []
default: {{queue: {{team: support}}}}
"""

MONDAY = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)  # 13:30 in Moscow, 20:30 in Vladivostok, 05:30 in New York


EVENING = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)  # Monday 20:00 in UTC, 00:00 on Tuesday in Samara


@pytest.mark.parametrize(("zone", "now", "ru", "en"), [
    ("Asia/Vladivostok", MONDAY, "завтра в 09:00 (часовой пояс: Владивосток)",
     "tomorrow at 09:00 (Vladivostok time)"),
    ("America/New_York", MONDAY, "сегодня в 09:00 (часовой пояс: Нью-Йорк)", "today at 09:00 (New York time)"),
    ("Europe/Samara", EVENING, "сегодня в 09:00 (часовой пояс: Самара)", "today at 09:00 (Samara time)"),
    # a zone of no place is named by its offset (POSIX's Etc/GMT-11 is 11 hours ahead of UTC)
    ("Etc/GMT-11", MONDAY, "завтра в 09:00 (часовой пояс: UTC+11)", "tomorrow at 09:00 (UTC+11 time)"),
    ("UTC", EVENING, "завтра в 09:00 (часовой пояс: UTC)", "tomorrow at 09:00 (UTC time)"),
])
def test_the_default_text_names_the_calendars_zone(tmp_path: Path, zone: str, now: datetime, ru: str,
                                                   en: str) -> None:
    """A customer in Moscow read «завтра 09:00» of a team in Vladivostok as their own
    09:00, seven hours late, while the site chat's status line (the browser's time)
    said 02:00: the default text now says in whose time the opening is."""
    ruleset = load_rules(write_config(tmp_path / "config", DEFAULT_TEXT.format(zone=zone), TEAMS))
    assert ruleset.after_hours_notice("support", now, "ru") == (
        f"Спасибо! Сейчас мы не работаем, коллега ответит здесь же {ru}.")
    assert ruleset.after_hours_notice("support", now, "en") == (
        f"Thank you! We are closed now; a colleague will answer here {en}.")


def test_an_opening_over_a_week_away_names_its_date_and_zone(tmp_path: Path) -> None:
    rules = DEFAULT_TEXT.format(zone="Europe/Moscow").replace(
        '{mon-fri: ["09:00-18:00"]}', '{mon: ["09:00-18:00"]}\n    holidays: [2026-12-07]')
    ruleset = load_rules(write_config(tmp_path / "config", rules, TEAMS))
    # Monday 13:30 is a holiday: the next Monday opens
    assert ruleset.after_hours_notice("support", MONDAY, "en") == (
        "Thank you! We are closed now; a colleague will answer here on Monday 14 December at 09:00 (Moscow time).")


ONE_TEXT = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {{mon-fri: ["09:00-18:00"]}}
queues:
  support:
    hours: office
    after_hours_message: "{text}"
rules: []
default: {{queue: {{team: support}}}}
"""


@pytest.mark.parametrize(("text", "expected"), [
    ("Мы закрыты, ответим {opens} по Москве.", "Мы закрыты, ответим завтра в 09:00 по Москве."),
    ("We are closed; we answer {opens} Moscow time.", "We are closed; we answer tomorrow at 09:00 Moscow time."),
])
@pytest.mark.parametrize("reader", ["ru", "en"])
def test_one_text_gets_its_opening_in_its_own_language(tmp_path: Path, text: str, expected: str,
                                                       reader: str) -> None:
    """One text for everybody (no per-language texts): an English reader got «Мы
    закрыты, ответим tomorrow 09:00», a Russian one "we answer завтра 09:00"."""
    ruleset = load_rules(write_config(tmp_path / "config", ONE_TEXT.format(text=text), TEAMS))
    evening = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # Monday 19:00 in Moscow
    assert ruleset.after_hours_notice("support", evening, reader) == expected


# the shipped way of writing it: {opens} straight after the verb
ANSWER_AT = 'after_hours_message: {ru: "Мы закрыты, ответим {opens}.", en: "We are closed; we will answer {opens}."}'


@pytest.mark.parametrize(("now", "ru", "en"), [
    (datetime(2026, 12, 28, 4, 0, tzinfo=UTC), "сегодня в 09:00", "today at 09:00"),  # Monday 07:00 in Moscow
    (datetime(2026, 12, 28, 16, 0, tzinfo=UTC), "завтра в 09:00", "tomorrow at 09:00"),  # Monday 19:00
    (datetime(2026, 12, 25, 16, 0, tzinfo=UTC), "в понедельник в 09:00", "on Monday at 09:00"),  # Friday 19:00
    # the weekdays said as when: «во вторник», «в среду», «в пятницу» (a holiday in between)
    (datetime(2026, 12, 12, 16, 0, tzinfo=UTC), "во вторник в 09:00", "on Tuesday at 09:00"),  # Saturday
    (datetime(2026, 12, 21, 16, 0, tzinfo=UTC), "в среду в 09:00", "on Wednesday at 09:00"),  # Monday
    (datetime(2026, 12, 16, 16, 0, tzinfo=UTC), "в пятницу в 09:00", "on Friday at 09:00"),  # Wednesday
    # beyond the week the date too: after the New Year holidays "Monday" read as the coming one
    (datetime(2026, 12, 30, 16, 0, tzinfo=UTC), "в понедельник, 11 января, в 09:00",
     "on Monday 11 January at 09:00"),
])
def test_opens_reads_as_when_after_the_verb(tmp_path: Path, now: datetime, ru: str, en: str) -> None:
    """«Мы закрыты, ответим {opens}» read «ответим понедельник 09:00»: {opens}
    now says when as a sentence does, with its own preposition, in each of its forms."""
    rules = DEFAULT_TEXT.format(zone="Europe/Moscow").replace(
        "queues:\n  support: {hours: office}", f"queues:\n  support:\n    hours: office\n    {ANSWER_AT}").replace(
        '{mon-fri: ["09:00-18:00"]}',
        '{mon-fri: ["09:00-18:00"]}\n    holidays: [2026-12-14, 2026-12-17, 2026-12-22, 2026-12-31, 2027-01-01,'
        ' 2027-01-04, 2027-01-05, 2027-01-06, 2027-01-07, 2027-01-08]')
    ruleset = load_rules(write_config(tmp_path / "config", rules, TEAMS))
    assert ruleset.after_hours_notice("support", now, "ru") == f"Мы закрыты, ответим {ru}."
    assert ruleset.after_hours_notice("support", now, "en") == f"We are closed; we will answer {en}."


@pytest.mark.parametrize(("text", "expected"), [
    # a text with a preposition of its own before {opens} was written for the bare form: it keeps it
    ("We are closed; we answer from {opens}.", "We are closed; we answer from Monday 09:00."),
    ("Закрыто до {opens}.", "Закрыто до понедельник 09:00."),
    ("Откроемся {opens}, то есть с {opens}.", "Откроемся в понедельник в 09:00, то есть с понедельник 09:00."),
    # after a colon it is said as after a verb
    ("Ответим: {opens}.", "Ответим: в понедельник в 09:00."),
])
def test_a_text_with_its_own_preposition_keeps_the_bare_opening(tmp_path: Path, text: str, expected: str) -> None:
    ruleset = load_rules(write_config(tmp_path / "config", ONE_TEXT.format(text=text), TEAMS))
    friday_evening = datetime(2026, 12, 25, 16, 0, tzinfo=UTC)  # Friday 19:00 in Moscow
    assert ruleset.after_hours_notice("support", friday_evening, "ru") == expected
