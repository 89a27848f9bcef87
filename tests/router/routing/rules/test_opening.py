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
    ("Asia/Vladivostok", MONDAY, "завтра 09:00 (часовой пояс: Владивосток)", "tomorrow 09:00 (Vladivostok time)"),
    ("America/New_York", MONDAY, "сегодня 09:00 (часовой пояс: Нью-Йорк)", "today 09:00 (New York time)"),
    ("Europe/Samara", EVENING, "сегодня 09:00 (часовой пояс: Самара)", "today 09:00 (Samara time)"),
    # a zone of no place is named by its offset (POSIX's Etc/GMT-11 is 11 hours ahead of UTC)
    ("Etc/GMT-11", MONDAY, "завтра 09:00 (часовой пояс: UTC+11)", "tomorrow 09:00 (UTC+11 time)"),
    ("UTC", EVENING, "завтра 09:00 (часовой пояс: UTC)", "tomorrow 09:00 (UTC time)"),
])
def test_the_default_text_names_the_calendars_zone(tmp_path: Path, zone: str, now: datetime, ru: str,
                                                   en: str) -> None:
    """A customer in Moscow read «завтра 09:00» of a team in Vladivostok as their own
    09:00, seven hours late, while the site chat's status line (the browser's time)
    said 02:00: the default text now says in whose time the opening is."""
    ruleset = load_rules(write_config(tmp_path / "config", DEFAULT_TEXT.format(zone=zone), TEAMS))
    assert ruleset.after_hours_notice("support", now, "ru") == (
        f"Спасибо! Сейчас мы не работаем, коллега ответит здесь же в рабочее время: {ru}.")
    assert ruleset.after_hours_notice("support", now, "en") == (
        f"Thank you! We are closed now; a colleague will answer here when we open: {en}.")


def test_an_opening_over_a_week_away_names_its_date_and_zone(tmp_path: Path) -> None:
    rules = DEFAULT_TEXT.format(zone="Europe/Moscow").replace(
        '{mon-fri: ["09:00-18:00"]}', '{mon: ["09:00-18:00"]}\n    holidays: [2026-12-07]')
    ruleset = load_rules(write_config(tmp_path / "config", rules, TEAMS))
    # Monday 13:30 is a holiday: the next Monday opens
    assert ruleset.after_hours_notice("support", MONDAY, "en") == (
        "Thank you! We are closed now; a colleague will answer here when we open: "
        "Monday 14 December 09:00 (Moscow time).")


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
    ("Мы закрыты, ответим {opens} по Москве.", "Мы закрыты, ответим завтра 09:00 по Москве."),
    ("We are closed; we answer {opens} Moscow time.", "We are closed; we answer tomorrow 09:00 Moscow time."),
])
@pytest.mark.parametrize("reader", ["ru", "en"])
def test_one_text_gets_its_opening_in_its_own_language(tmp_path: Path, text: str, expected: str,
                                                       reader: str) -> None:
    """One text for everybody (no per-language texts): an English reader got «Мы
    закрыты, ответим tomorrow 09:00», a Russian one "we answer завтра 09:00"."""
    ruleset = load_rules(write_config(tmp_path / "config", ONE_TEXT.format(text=text), TEAMS))
    evening = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # Monday 19:00 in Moscow
    assert ruleset.after_hours_notice("support", evening, reader) == expected
