"""The redacting log filter: whoever logs a configured secret, in a message,
its arguments, a traceback or a URL-escaped form, the handler writes ``***``."""

from __future__ import annotations

import logging

import pytest

from router.redaction import install_log_filter, redact, register

SECRET = "tok:3n/with+signs&more"


def test_every_form_of_a_secret_is_redacted_wherever_it_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert register([SECRET, None, ""]) == []
    install_log_filter()
    log = logging.getLogger("some.library.deep.down")
    log.info("calling https://api.example/bot%s/getMe", SECRET)
    log.debug("escaped: %s and %s", "tok%3A3n%2Fwith%2Bsigns%26more", "tok%3A3n/with%2Bsigns%26more")
    try:
        raise ConnectionError(f"cannot reach https://api.example/bot{SECRET}/getFile")
    except ConnectionError:
        log.exception("request failed")
    log.warning("no secret here: %d", 42)
    assert SECRET not in caplog.text and "%2Bsigns" not in caplog.text
    assert caplog.text.count("***") == 4
    assert "ConnectionError: cannot reach https://api.example/bot***/getFile" in caplog.text
    assert "no secret here: 42" in caplog.text


def test_a_too_short_secret_is_reported_not_redacted() -> None:
    assert register(["abc"]) == ["abc"]
    assert redact("abc abd") == "abc abd"
