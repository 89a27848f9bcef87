"""A stored file's name says what its bytes are: no extension that would
render or run survives, and a download's header carries a UTF-8 name with an
ASCII fallback."""

from __future__ import annotations

import pytest

from router.files.names import content_disposition, fit_name


@pytest.mark.parametrize(("name", "content_type", "kept"), [
    ("report.html", "text/plain", "report.txt"),          # <img onerror> sniffed as text: never .html
    ("run.bat", "text/plain", "run.txt"),
    ("a.jar", "application/zip", "a.zip"),
    ("photo.jpg.html", "image/jpeg", "photo.jpg"),        # a JPEG polyglot keeps an image's name only
    ("x.exe", "application/octet-stream", "x.bin"),
    ("Setup.PS1", "text/plain", "Setup.txt"),
    ("logo.svg", "image/png", "logo.png"),
    ("cat.png", "image/jpeg", "cat.png.jpg"),             # a name that does not fit gets the type's
    ("notes", "text/plain", "notes.txt"),
    (".html", "text/plain", "file.txt"),
    ("счёт.pdf", "application/pdf", "счёт.pdf"),
    ("data.csv", "text/plain", "data.csv"),
    ("песня.mp3", "audio/mpeg", "песня.mp3"),
    ("voice.ogg", "audio/ogg", "voice.ogg"),
    ("doc.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "doc.docx"),
])
def test_a_name_ends_with_its_types_extension(name: str, content_type: str, kept: str) -> None:
    assert fit_name(name, content_type) == kept
    assert fit_name(kept, content_type) == kept  # fitting twice changes nothing (served names are fitted again)


@pytest.mark.parametrize(("name", "header"), [
    ("a.pdf", 'attachment; filename="a.pdf"'),
    ("Счёт на оплате.pdf",
     "attachment; filename=\"file.pdf\"; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%D0%BD%D0%B0%20"
     "%D0%BE%D0%BF%D0%BB%D0%B0%D1%82%D0%B5.pdf"),
    ('café "menu".txt', "attachment; filename=\"cafe _menu.txt\"; filename*=UTF-8''caf%C3%A9%20%22menu%22.txt"),
])
def test_a_download_header_has_an_ascii_name_and_the_utf8_one(name: str, header: str) -> None:
    assert content_disposition("attachment", name) == header
