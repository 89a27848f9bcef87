"""The console's stylesheets parse: several capabilities append their rules
to them, and one lost brace (a merge drops it easily) silently turns every rule
after it into part of a media query, so the page breaks only at some widths.
The page links every one of them, each stays within the house's 600 lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "agents_ui" / "static"
MAX_LINES = 600


def linked_stylesheets() -> list[str]:
    """The stylesheets console.html loads, in its order."""
    page = (STATIC / "console.html").read_text(encoding="utf-8")
    return re.findall(r'<link rel="stylesheet" href="/console/([\w.-]+\.css)">', page)


@pytest.mark.parametrize("name", sorted(p.name for p in STATIC.glob("*.css")))
def test_every_brace_of_the_stylesheet_is_closed_where_it_opened(name: str) -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / name).read_text(encoding="utf-8"), flags=re.S)
    depth = 0
    for number, line in enumerate(css.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"{name}:{number}: a '}}' closes nothing"
        # a rule at the top level starting while a block is still open: the block lost its '}'
        nested = depth == 1 and line.startswith(".") and "{" in line and "}" in line
        assert not nested, f"{name}:{number}: {line.strip()[:60]} is inside an unclosed block"
    assert depth == 0, f"{name}: a block is never closed"


def test_the_page_links_every_stylesheet_and_each_stays_within_the_house_limit() -> None:
    on_disk = {p.name for p in STATIC.glob("*.css")}
    linked = linked_stylesheets()
    # the shell's first: the others' rules are written to win ties against it
    assert linked[0] == "console.css"
    assert sorted(linked) == sorted(on_disk), "a stylesheet in static/ that the page never loads, or one missing"
    for name in linked:
        lines = len((STATIC / name).read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES}): split it"
