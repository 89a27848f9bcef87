"""Every console script talks to the API through the one helper,
agents_ui/static/api.js (window.consoleApi): one CSRF rule, one error shape,
one error text. A script with a fetch of its own would bring back the
duplicates an end-to-end run found (each with its own error path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agents_ui

STATIC = Path(agents_ui.__file__).parent / "static"
# i18n.js fetches its catalogue (no API, and before any error can be put in words);
# files.js uploads with XMLHttpRequest for its progress bar, which fetch cannot show
OWN_TRANSPORT = {"api.js": "fetch(", "i18n.js": "fetch(`/console/i18n/", "files.js": "new XMLHttpRequest()"}


def scripts() -> list[Path]:
    return sorted(p for p in STATIC.glob("*.js"))


def test_only_api_js_calls_fetch() -> None:
    found = {}
    for path in scripts():
        text = path.read_text(encoding="utf-8")
        calls = re.findall(r"\bfetch\(|XMLHttpRequest\(", text)
        allowed = OWN_TRANSPORT.get(path.name)
        if calls and not (allowed and allowed in text and len(calls) == 1):
            found[path.name] = len(calls)
    assert found == {}, f"console scripts with a transport of their own (use window.consoleApi): {found}"


@pytest.mark.parametrize(("helper", "name"), [("api.js", "consoleApi"), ("screens.js", "consoleScreens")])
def test_a_shared_script_is_loaded_before_every_script_that_uses_it(helper: str, name: str) -> None:
    page = (STATIC / "console.html").read_text(encoding="utf-8")
    order = re.findall(r'<script src="/console/([\w.]+)"', page)
    users = [p.name for p in scripts() if f"window.{name}" in p.read_text(encoding="utf-8") and p.name != helper]
    assert users, f"no script uses window.{name}"
    assert all(order.index(helper) < order.index(user) for user in users), order
