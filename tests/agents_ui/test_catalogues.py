"""The string catalogues: every word the console and the widget write exists
in Russian and in English, and every key the code asks for is in both.

A key missing from one language would show the key itself to the people
reading that language; these checks read the code, so a new screen cannot
ship with a string only in one language or only in code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from agents_ui.endpoints import ENDPOINTS
from router.kinds import AttachmentKind
from router.models import ConversationStatus, Delivery, Role

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "agents_ui" / "static"
CONSOLE_CATALOGUES = ROOT / "agents_ui" / "i18n"
WIDGET_PARTS = ROOT / "connectors" / "static" / "widget"
WIDGET_CATALOGUES = ROOT / "connectors" / "static" / "i18n"

# the plural forms each language needs (Intl.PluralRules' categories, as i18next suffixes them)
PLURALS = {"ru": {"one", "few", "many", "other"}, "en": {"one", "other"}}
_PLURAL = re.compile(r"^(.*)_(zero|one|two|few|many|other)$")


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        else:
            assert isinstance(value, str) and value.strip(), f"{name}: an empty text"
            out[name] = value
    return out


def load(folder: Path, lang: str) -> dict[str, str]:
    return flat(json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")))


def keys_asked(catalogue: dict[str, str]) -> set[str]:
    """The keys code asks for: a plural's forms are asked by their base."""
    return {m.group(1) if (m := _PLURAL.match(k)) else k for k in catalogue}


def plural_forms(catalogue: dict[str, str]) -> dict[str, set[str]]:
    forms: dict[str, set[str]] = {}
    for key in catalogue:
        if m := _PLURAL.match(key):
            forms.setdefault(m.group(1), set()).add(m.group(2))
    return forms


def placeholders(text: str) -> set[str]:
    """The variables of a text, with or without a format ({{count, number}})."""
    return set(re.findall(r"\{\{\s*(\w+)\s*(?:,[^}]*)?\}\}", text))


@pytest.mark.parametrize("folder", [CONSOLE_CATALOGUES, WIDGET_CATALOGUES], ids=["console", "widget"])
def test_both_languages_have_the_same_keys_and_variables(folder: Path) -> None:
    ru, en = load(folder, "ru"), load(folder, "en")
    assert keys_asked(ru) - keys_asked(en) == set(), "only in Russian"
    assert keys_asked(en) - keys_asked(ru) == set(), "only in English"
    for lang, catalogue in (("ru", ru), ("en", en)):
        for base, forms in plural_forms(catalogue).items():
            assert forms == PLURALS[lang], f"{lang}: {base} needs the plural forms {sorted(PLURALS[lang])}"
    # a variable one language forgets would leave its reader without the number or the name
    for key in keys_asked(ru):
        ru_vars = set().union(*(placeholders(v) for k, v in ru.items() if k == key or k.startswith(f"{key}_")))
        en_vars = set().union(*(placeholders(v) for k, v in en.items() if k == key or k.startswith(f"{key}_")))
        assert ru_vars == en_vars, f"{key}: variables {sorted(ru_vars)} in Russian, {sorted(en_vars)} in English"


# the console's variables that carry a number: each written with its format, so i18next writes it as the
# language does («10 000 символов», «19,5 МБ»); bare, String() wrote "10000" and "19.5" in Russian too
NUMBERS = {"count", "max", "days", "limit_mb", "failed", "answered", "seconds", "retry_after", "attempts"}


def test_every_number_of_the_consoles_texts_is_formatted() -> None:
    for lang in ("ru", "en"):
        for key, text in load(CONSOLE_CATALOGUES, lang).items():
            bare = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text)) & NUMBERS
            assert not bare, f"{lang}: {key} writes {sorted(bare)} without its format: {{{{name, number}}}}"


def console_sources() -> dict[str, str]:
    files = [*sorted(CONSOLE.glob("*.js")), CONSOLE / "console.html"]
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def console_keys_used() -> set[str]:
    """Every key the console's code names: in t("..."), in data-i18n and
    data-i18n-attr, and any string literal shaped like a key of the
    catalogue's sections (t(cond ? "a.b" : "a.c"))."""
    sections = {k.split(".")[0] for k in load(CONSOLE_CATALOGUES, "en")}
    used: set[str] = set()
    for source in console_sources().values():
        used |= set(re.findall(r'data-i18n="([\w.]+)"', source))
        for attrs in re.findall(r'data-i18n-attr="([^"]+)"', source):
            used |= {pair.split(":")[1].strip() for pair in attrs.split(";") if ":" in pair}
        for literal in re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', source):
            if literal.split(".")[0] in sections:
                used.add(literal)
    return used


def test_every_key_the_console_asks_for_is_in_both_languages() -> None:
    used = console_keys_used()
    assert len(used) > 100, "the scan found too few keys: has the console's code changed shape?"
    for lang in ("ru", "en"):
        missing = used - keys_asked(load(CONSOLE_CATALOGUES, lang))
        assert missing == set(), f"{lang}.json lacks {sorted(missing)}"


# the keys the console builds from a value (t(`status.${conv.status}`)): every value has its text
FAMILIES = {
    "status": [s.value for s in ConversationStatus],
    "roles": [r.value for r in Role],
    "delivery": [d.value for d in Delivery],
    "attachments": list(get_args(AttachmentKind)),
    "why": ["true", "false", "skipped"],
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_value_shown_through_a_built_key_has_a_text(family: str) -> None:
    sources = "".join(console_sources().values())
    assert f"`{family}." in sources, f"the console no longer builds {family} keys: drop this family"
    for lang in ("ru", "en"):
        catalogue = keys_asked(load(CONSOLE_CATALOGUES, lang))
        missing = {v for v in FAMILIES[family] if f"{family}.{v}" not in catalogue}
        assert missing == set(), f"{lang}.json lacks {family}.{sorted(missing)}"


def test_every_key_the_widget_says_is_in_both_languages() -> None:
    sources = "".join(p.read_text(encoding="utf-8") for p in sorted(WIDGET_PARTS.glob("*.js")))
    used = set(re.findall(r'say\("(\w+)"', sources))
    assert {"title", "send", "greeting", "people_now"} <= used
    for lang in ("ru", "en"):
        missing = used - set(load(WIDGET_CATALOGUES, lang))
        assert missing == set(), f"widget {lang}.json lacks {sorted(missing)}"


def test_the_console_writes_no_text_of_its_own_in_its_page() -> None:
    """The page's words all come from the catalogue: an element with text of
    its own (a Latin or Cyrillic word outside a tag) would stay in one language."""
    page = (CONSOLE / "console.html").read_text(encoding="utf-8")
    body = re.sub(r"<!--.*?-->", "", page[page.index("<body>"):], flags=re.S)
    texts = [t.strip() for t in re.findall(r">([^<]+)<", body) if t.strip()]
    # the language menu names each language in itself, as such menus do; "?" opens the shortcuts
    assert set(texts) <= {"omnirouter", "RU · Русский", "EN · English", "?"}, texts


# what connectors write for a message without words of their own, one of each shape
DESCRIPTIONS = ["[photo]", "[voice message 1:07]", "[sticker 😀]", "[document invoice-1042.pdf]",
                "[location 55.755826, 37.617299]", "[place ГУМ, Красная пл., 3]", "[contact Ivan Petrov 79123456789]",
                "[poll Как вам доставка?]", "[forwarded message]", "[image: receipt.png]", "[product Кружка]",
                "[graffiti]"]


def described_pattern() -> re.Pattern[str]:
    """i18n.js's DESCRIBED, the labels the console translates, as Python reads it."""
    source = (CONSOLE / "i18n.js").read_text(encoding="utf-8")
    block = source[source.index("const DESCRIBED = new RegExp("):]
    block = block[: block.index(");")]
    return re.compile("".join(s.replace("\\\\", "\\") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', block)))


@pytest.mark.parametrize("description", DESCRIPTIONS)
def test_every_description_is_shown_in_both_languages(description: str) -> None:
    """A label i18n.js does not know is shown to a Russian agent as it is stored, in English."""
    found = described_pattern().match(description)
    assert found is not None, f"i18n.js's DESCRIBED does not know {description!r}"
    key = "described." + found.group(1).replace(" ", "_")
    for lang in ("ru", "en"):
        assert key in load(CONSOLE_CATALOGUES, lang), f"{lang}.json lacks {key}"


def test_every_field_the_api_can_refuse_has_a_name_for_people_in_both_languages() -> None:
    """A 422 names the field as the API does (display_name); the console shows it as
    fields.<name> says ("Имя"), so each field of each body and query has one."""
    fields = {"body", "query"}  # a problem of the whole, named by its part
    for ep in ENDPOINTS:
        for model in (ep.request_body, ep.query):
            fields |= set(model.model_fields) if model is not None else set()
    for lang in ("ru", "en"):
        catalogue = keys_asked(load(CONSOLE_CATALOGUES, lang))
        missing = {f for f in fields if f"fields.{f}" not in catalogue}
        assert missing == set(), f"{lang}.json lacks fields.{sorted(missing)}"
