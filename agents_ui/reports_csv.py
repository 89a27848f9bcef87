"""A report as CSV: for a program (RFC 4180, the columns' codes) or, when the
console asks in its language, for a spreadsheet in that language.

A Russian supervisor's Excel opens a comma-separated file as one column,
reads UTF-8 without a byte-order mark as Windows-1251 (garbled names) and
takes «0.75» for a date: so in Russian the file is ';'-separated, starts with
the mark, writes decimal commas, and its header and reasons are the console's
own words (agents_ui/i18n); its groups are named as the console names them
(an agent by name, not the id; no team or tier as «нет»/"none")."""

from __future__ import annotations

import csv
import functools
import io
import json
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


@functools.cache
def _words(lang: Lang) -> dict[str, Any]:
    catalogue: dict[str, Any] = json.loads((_CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))["reports"]
    return catalogue


def _cell(value: Cell, lang: Lang | None) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA) and value != "-":
        return "'" + value
    if isinstance(value, float) and lang == "ru":
        return repr(value).replace(".", ",")
    return "" if value is None else value


def _group(value: Cell, words: dict[str, Any] | None, names: Mapping[str, str]) -> Cell:
    """A group as the console shows it, for a spreadsheet: an agent by name, none in words."""
    if words is None or not isinstance(value, str):
        return value
    if value == NONE:
        none: str = words["none"]
        return none
    return names.get(value, value)


def csv_text(made: Report, table: str, lang: Lang | None = None, names: Mapping[str, str] | None = None) -> str:
    """``names``: agents' names by id, for a spreadsheet's agent column (a program gets the ids)."""
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
            writer.writerow([words["group_column"][group] if c == "group" else words["columns"][c] for c in COLUMNS])
        else:
            writer.writerow([group if c == "group" else c for c in COLUMNS])
        writer.writerows([_cell(_group(row.get(c), words, names or {}) if c == "group" else row.get(c), lang)
                          for c in COLUMNS] for row in made.rows)
    # the mark tells Excel the file is UTF-8 (without it, Cyrillic names came out garbled)
    return ("\ufeff" if lang else "") + out.getvalue()
