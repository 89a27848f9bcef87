"""The site chat's widget as the server hands it out: its parts joined into
one script with the installation's settings and both languages' strings,
its options (title, greeting, pre-chat form), and the demo page in the
visitor's language.

The widget's source is the parts under ``static/widget/``, joined in name
order inside one function (so each part sees the others' names, and nothing
leaks into the host page); its strings are ``static/i18n/<lang>.json``, one
catalogue per language with the same keys (a test checks)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import hdrs, web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from router.connector import Availability, Language, Localized

STATIC_DIR = Path(__file__).parent / "static"
PARTS_DIR = STATIC_DIR / "widget"
CATALOGUES_DIR = STATIC_DIR / "i18n"
LANGUAGES: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"
_CONFIG_PLACEHOLDER = b"{/*omnirouter:config*/}"

# ``email: off`` as written unquoted: YAML reads it as false, and the start was refused over it
Ask = Annotated[Literal["off", "optional", "required"], BeforeValidator(lambda v: "off" if v is False else v)]
Title = Annotated[str, Field(min_length=1, max_length=100)]


class Prechat(BaseModel):
    """What a new visitor is asked before their first message: each field
    off, optional or required. What they give goes to the chat as claims
    (never proof), as the page's ``data-name``/``data-phone``/``data-email``."""

    model_config = ConfigDict(extra="forbid")

    name: Ask = "off"
    phone: Ask = "off"
    email: Ask = "off"


def catalogue(lang: Language) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGUES_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def bundle(title: Title | dict[Language, Title] | None, greeting: Localized | Literal[False] | None,
           prechat: Prechat) -> bytes:
    """The widget script: its parts in one function, with the installation's
    settings in place of its placeholder."""
    config: dict[str, Any] = {"strings": {lang: catalogue(lang) for lang in LANGUAGES}, "prechat": prechat.model_dump()}
    if title is not None:
        config["title"] = title
    if greeting is not None:
        config["greeting"] = greeting
    parts = [path.read_text(encoding="utf-8") for path in sorted(PARTS_DIR.glob("*.js"))]
    source = '(function () {\n"use strict";\n' + "\n".join(parts) + "})();\n"
    # json.dumps escapes no "</": harmless in a script file, and the config is ours
    return source.encode().replace(_CONFIG_PLACEHOLDER, json.dumps(config, ensure_ascii=False).encode(), 1)


def availability_frame(answer: Availability) -> dict[str, Any]:
    """The welcome frame's ``availability``: people answer now, or when they will."""
    opens_at: datetime | None = answer.opens_at
    return {"people_now": answer.people_now, "opens_at": opens_at.isoformat() if opens_at is not None else None}


def demo_language(request: web.Request) -> Language:
    """``?lang=`` when given, else the browser's first language we speak, else Russian."""
    asked = [request.query.get("lang", "")]
    accepted = request.headers.get(hdrs.ACCEPT_LANGUAGE, "").split(",")
    asked += [part.split(";")[0].strip().lower()[:2] for part in accepted]
    return next((code for code in asked if code in LANGUAGES), DEFAULT_LANGUAGE)


async def serve_demo_css(request: web.Request) -> web.FileResponse:
    """The demo page's one stylesheet, shared by its languages."""
    return web.FileResponse(STATIC_DIR / "demo.css", headers={
        hdrs.CONTENT_TYPE: "text/css; charset=utf-8", "X-Content-Type-Options": "nosniff",
    })


async def serve_demo(request: web.Request) -> web.FileResponse:
    lang = demo_language(request)
    return web.FileResponse(STATIC_DIR / f"chat.{lang}.html", headers={
        hdrs.CONTENT_TYPE: "text/html; charset=utf-8", hdrs.VARY: "Accept-Language", "Content-Language": lang,
    })
