"""An HTML mail's readable text.

inscriptis (Apache-2.0) lays the text out as a reader sees it: paragraphs,
lists and tables kept as lines. Its cost grows with the markup, ~3.5 µs a
byte for a table, so a hostile 3 MB table held the mailbox's reader for
10 s or more. Past ``LAYOUT_LIMIT`` characters the text is read by lxml
alone (C, ~40 ms a MB), a block a line: every word kept, the layout not.
"""

from __future__ import annotations

import re

from inscriptis import Inscriptis
from inscriptis.model.config import ParserConfig
from lxml.etree import ParserError
from lxml.html import HtmlElement, HTMLParser, document_fromstring

# far above a real mail's HTML (a newsletter is ~100 KB); below it a mail
# costs inscriptis well under a second even as one table
LAYOUT_LIMIT = 300_000

# the elements after which a reader sees a new line
_BLOCKS = frozenset((
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tr", "ul",
))
_CELLS = frozenset(("td", "th"))


def html_tree(html: str) -> HtmlElement | None:
    """inscriptis's own parse, with libxml2's depth limit lifted (``huge_tree``):
    past 255 nested elements it stopped, and everything after was dropped
    without a word. A parser a call, as lxml's parsers are not for threads."""
    html = html.strip()
    if html.startswith("<?xml "):
        html = re.sub(r"^<\?xml[^>]*\?>", "", html, count=1)
    if not html:
        return None
    parser = HTMLParser(huge_tree=True)
    try:
        return document_fromstring(html, parser=parser)
    except ParserError:
        return document_fromstring("<pre>" + html + "</pre>", parser=parser)


def html_to_text(html: str, warnings: list[str] | None = None) -> str:
    """Readable text of an HTML mail: paragraphs, lists and tables kept as
    lines, scripts and styles gone."""
    tree = html_tree(html)
    if tree is None:
        return ""
    if len(html) > LAYOUT_LIMIT:
        if warnings is not None:
            warnings.append(f"HTML of {len(html):,} characters, over {LAYOUT_LIMIT:,}: its text read without layout")
        return "\n".join(filter(None, (" ".join(line.split()) for line in _words_only(tree).splitlines())))
    text = Inscriptis(tree, ParserConfig()).get_text()
    # inscriptis indents nested blocks; in a mail that is noise, not structure
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _words_only(tree: HtmlElement) -> str:
    """The tree's text, a block a line and cells apart, without scripts and styles."""
    for dropped in [*tree.iter("script", "style", "head")]:
        dropped.drop_tree()
    for element in tree.iter():
        tag = element.tag
        if tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
        elif tag in _CELLS:
            element.tail = " " + (element.tail or "")
    return str(tree.text_content())
