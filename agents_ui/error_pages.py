"""An API error met by a browser's navigation (a file or a relayed attachment
the console opens in a new tab) as a page an agent reads, in the console's
language, instead of the JSON a program parses.

The words are the console's own catalogue's (``errors.<code>``, as
``i18n.error`` in static/i18n.js picks them), so the page and the console say
one thing; the status and the error's code stay below, for whoever digs."""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from agents_ui.sessions import AGENT

CATALOGUES = Path(__file__).parent / "i18n"
LANGUAGES = ("ru", "en")
DEFAULT = "ru"  # as the console's (static/i18n.js)
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def wants_page(request: web.Request) -> bool:
    """A browser opening the address as a page (a link, a new tab), not the console's fetch
    (Accept: application/json) nor a program (Accept: */*, or none)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return True
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


@functools.cache
def _catalogue(lang: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    return loaded


def _language(request: web.Request) -> str:
    """The agent's own setting, else the browser's first language the console speaks, else Russian."""
    agent = request.get(AGENT)
    if agent is not None and agent.language in LANGUAGES:
        return str(agent.language)
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def _said(lang: str, code: str, details: dict[str, Any]) -> str:
    """The page's own words for a code (error_page.<code>: a file opened, not a reply's), else the
    console's (errors.<code>_<reason>, errors.<code>), else its words for any failure."""
    catalogue = _catalogue(lang)
    reason = details.get("reason")
    keys = [("error_page", code)] + ([("errors", f"{code}_{reason}")] if isinstance(reason, str) else [])
    for section, key in [*keys, ("errors", code), ("errors", "unknown")]:
        text = catalogue[section].get(key)
        if isinstance(text, str):
            return _VARIABLE.sub(lambda m: str(details.get(m.group(1), m.group())), text)
    return str(catalogue["errors"]["unknown"])


def error_page(request: web.Request, status: int, code: str, details: dict[str, Any],
               headers: dict[str, str]) -> web.Response:
    lang = _language(request)
    words = _catalogue(lang)["error_page"]
    body = (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(words['title'])}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:15vh auto;padding:0 1em;color:#1f2328}"
        "small{color:#57606a}</style></head><body>"
        f'<h1>{html.escape(words["title"])}</h1>'
        f'<p data-testid="error-text">{html.escape(_said(lang, code, details))}</p>'
        f'<p><a href="/">{html.escape(words["back"])}</a></p>'
        f"<p><small>{status} · {html.escape(code)}</small></p></body></html>\n"
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers={**headers, "Content-Security-Policy": _PAGE_CSP})
