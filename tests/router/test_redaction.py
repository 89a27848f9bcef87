"""The redacting log filter: whoever logs a configured secret, in a message,
its arguments, a traceback or a URL-escaped form, the handler writes ``***``."""

from __future__ import annotations

import logging

import pytest

from router.redaction import install_log_filter, redact, register, without_quotes

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


def test_what_a_platform_quotes_of_a_sent_message_is_taken_out_of_a_log_line() -> None:
    text = "Ваш код подтверждения: 954816. Введите его в чате"
    # the whole text, a part of it (a truncated echo), a file's name: each goes; the rest stays
    assert (without_quotes(f"Bad Request: message {text!r} rejected", [text, None])
            == "Bad Request: message '<what was sent>' rejected")
    assert (without_quotes("can't parse entities in 'код подтверждения: 95' at byte 12", [text])
            == "can't parse entities in '<what was sent>' at byte 12")
    assert (without_quotes("vk: the file passport.pdf was not fetched: 127.0.0.1 is not public",
                           [text], ["passport.pdf", "https://files.lan/x"])
            == "vk: the file <what was sent> was not fetched: 127.0.0.1 is not public")
    # a text under 4 characters, or a few words in common, is no quote: the platform's words stay
    assert without_quotes("Bad Request: chat not found", ["ok", "Bad"]) == "Bad Request: chat not found"
    assert without_quotes("Forbidden: bot was blocked by the user", ["was it blocked?"]) == (
        "Forbidden: bot was blocked by the user")
    # only the spaces of a text in common: nothing is quoted
    assert without_quotes("a" + " " * 12 + "b", ["x" + " " * 20 + "y"]) == "a" + " " * 12 + "b"
    # a file's URL goes whole, never a part of it: a host in common is the platform's own words
    assert (without_quotes("SMTP server 127.0.0.1: refused", [], ["http://127.0.0.1:1/f.pdf"])
            == "SMTP server 127.0.0.1: refused")
