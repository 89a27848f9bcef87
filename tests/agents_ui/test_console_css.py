"""The console's stylesheet parses: several capabilities append their rules
to it, and one lost brace (a merge drops it easily) silently turns every rule
after it into part of a media query, so the page breaks only at some widths."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "agents_ui" / "static"


def test_every_brace_of_the_stylesheet_is_closed_where_it_opened() -> None:
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "console.css").read_text(encoding="utf-8"), flags=re.S)
    depth = 0
    for number, line in enumerate(css.splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"console.css:{number}: a '}}' closes nothing"
        # a rule at the top level starting while a block is still open: the block lost its '}'
        nested = depth == 1 and line.startswith(".") and "{" in line and "}" in line
        assert not nested, f"console.css:{number}: {line.strip()[:60]} is inside an unclosed block"
    assert depth == 0, "console.css: a block is never closed"
