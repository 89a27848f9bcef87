"""A report as CSV: for a program (RFC 4180, the columns' codes) or, when the
console asks in its language, for a spreadsheet in that language.

A Russian supervisor's Excel opens a comma-separated file as one column,
reads UTF-8 without a byte-order mark as Windows-1251 (garbled names) and
takes «0.75» for a date: so in Russian the file is ';'-separated, starts with
the mark, writes decimal commas, and its header and reasons are the console's
own words (agents_ui/i18n); its groups are named as the console names them
(an agent, a team or a channel by its name, not the id; no team or tier as
«нет»/"none")."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from router.reports.figures import COLUMNS, NONE, Report

Cell = str | int | float | None
Lang = Literal["ru", "en"]
# what a spreadsheet would run as a formula: written as text
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CATALOGUES = Path(__file__).resolve().parent / "i18n"
_DELIMITER: dict[Lang, str] = {"ru": ";", "en": ","}
# a group of an hour, as the report names it: 2026-12-08T14:00
_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


@functools.cache
def _words(lang: Lang) -> dict[str, Any]:
    catalogue: dict[str, Any] = json.loads((_CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))["reports"]
    return catalogue


# the figures in seconds: a spreadsheet's header names the unit, and its cells keep a tenth of a second
DURATIONS = frozenset({"first_response_p50", "first_response_p90", "resolution_p50", "resolution_p90",
                       "wait_p50", "wait_p90"})


def _header(column: str, group: str, words: dict[str, Any]) -> str:
    if column == "group":
        named: str = words["group_column"][group]
        return named
    name: str = words["columns"][column]
    return str(words["csv_header"]["seconds"]).replace("{{column}}", name) if column in DURATIONS else name


def _cell(value: Cell, lang: Lang | None) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA) and value != "-":
        return "'" + value
    if isinstance(value, float) and lang == "ru":
        return repr(value).replace(".", ",")
    return "" if value is None else value


def _group(value: Cell, words: dict[str, Any] | None, names: Mapping[str, str]) -> Cell:
    """A group as the console shows it, for a spreadsheet: an agent, a team or a channel by its name, none in
    words, an hour as a spreadsheet reads a date and time («2026-12-08 14:00»: with ISO's T between them it
    stayed text, which no filter or chart takes for a time)."""
    if words is None or not isinstance(value, str):
        return value
    if value == NONE:
        none: str = words["none"]
        return none
    if _HOUR.match(value):
        return value.replace("T", " ")
    return names.get(value, value)


def _value(column: str, value: Cell, words: dict[str, Any] | None, names: Mapping[str, str]) -> Cell:
    """A cell as a spreadsheet's reader wants it (``words``: in their language), else as the JSON has it."""
    if column == "group":
        return _group(value, words, names)
    if words is not None and column in DURATIONS and isinstance(value, float):
        return round(value, 1)  # 22.692047 s read as 22.7 s: microseconds are no figure to a person
    return value


def csv_text(made: Report, table: str, lang: Lang | None = None, names: Mapping[str, str] | None = None) -> str:
    """``names``: the groups' names for people by id (agents, teams, channels), for a spreadsheet (a program
    gets the ids)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", delimiter=_DELIMITER[lang] if lang else ",")
    words = _words(lang) if lang else None
    if table == "handoff_reasons":
        header = [words["csv_header"]["reason"], words["csv_header"]["handoffs"]] if words else ["reason", "handoffs"]
        writer.writerow(header)
        reasons = words["reasons"] if words else {}
        writer.writerows([_cell(reasons.get(reason, reason), lang), count]
                         for reason, count in made.handoff_reasons.items())
    else:
        group = made.group_by.value
        if words:
            writer.writerow([_header(c, group, words) for c in COLUMNS])
        else:
            writer.writerow([group if c == "group" else c for c in COLUMNS])
        writer.writerows([_cell(_value(c, row.get(c), words, names or {}), lang) for c in COLUMNS]
                         for row in made.rows)
    # the mark tells Excel the file is UTF-8 (without it, Cyrillic names came out garbled)
    return ("\ufeff" if lang else "") + out.getvalue()
