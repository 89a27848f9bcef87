"""Content types come from the bytes: a disguise is caught whatever the name
or the type the client sent says."""

from __future__ import annotations

import pytest

from router.files.sniff import HEAD_BYTES, forged, sniff
from tests.liveness import finishes

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


@pytest.mark.parametrize(("head", "expected"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf"), (EXE, "application/x-msdownload"),
    ("Заказ 123: доставка завтра\n".encode(), "text/plain"),
    (b"<!DOCTYPE html><html><script>alert(1)</script>", "text/html"),
    (b"  <html><body>hi", "text/html"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
    (b"hello <script>alert(1)</script>", "text/html"),
    (b"\x00\x01\x02garbage", "application/octet-stream"),
    (b"<!-- one -->\n<!-- two -->\n<html><body>hi", "text/html"),
    (b'<?xml version="1.0"?><!-- a --> stray <!-- b --> <svg viewBox="0 0 1 1"/>', "image/svg+xml"),
])
def test_the_type_is_read_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_a_head_of_comments_is_read_at_once() -> None:
    """A file of empty comments and no tag: the pattern that looked for markup
    after them tried every way of splitting the run (2^k for k comments), and a
    200-byte upload held the server for minutes."""
    assert finishes(sniff, b"<!---->" * (HEAD_BYTES // 7) + b"x") == "text/plain"
    assert finishes(sniff, b"<!---->" * (HEAD_BYTES // 7 - 1) + b"<html>") == "text/html"


def test_a_multibyte_character_cut_by_the_head_is_still_text() -> None:
    head = ("ж" * 10).encode()[:-1]
    assert sniff(head) == "text/plain"


@pytest.mark.parametrize(("name", "declared", "sniffed", "is_forged"), [
    ("photo.jpg", "image/jpeg", "application/x-msdownload", True),   # an .exe named photo.jpg
    ("photo.jpg", None, "application/x-msdownload", True),           # by the extension alone
    ("cat.png", "image/png", "text/html", True),                     # HTML claiming to be an image
    ("cat.png", "image/png", "image/jpeg", False),                   # an image all the same: shown as what it is
    ("report.pdf", "application/pdf", "application/pdf", False),
    ("notes", None, "text/plain", False),
    ("song.mp3", "audio/mpeg", "application/zip", True),
])
def test_a_disguise_is_caught(name: str, declared: str | None, sniffed: str, is_forged: bool) -> None:
    assert forged(name, declared, sniffed) is is_forged
