"""Files in the console's API: an agent uploads one (multipart, streamed),
replies with it, and the console shows it; what is too large or not what it
claims to be gets a clear 4xx and nothing of it is stored."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.appkeys import FILES, STORE
from router.config import Settings
from router.files.signing import SECRET_NAME, signed_path
from router.models import Attachment, IdentityRef, InboundMessage
from router.server.app import ROUTER
from tests.agents_ui.conftest import Client, customer_writes, error_of, login
from tests.connectors.broken_multipart import BROKEN, HEADERS, TRUNCATED
from tests.connectors.broken_multipart import form as broken_form
from tests.router.files.test_sniff import EXE, PDF, PNG

pytestmark = pytest.mark.usefixtures("settings")


def form(body: bytes, name: str, content_type: str | None = None, field: str = "file") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("note", "ignored")  # fields before the file are skipped
    data.add_field(field, body, filename=name, content_type=content_type or "application/octet-stream")
    return data


async def upload(client: Client, body: bytes, name: str, content_type: str | None = None,
                 **kw: Any) -> aiohttp.ClientResponse:
    return await client.post("/api/files", data=form(body, name, content_type), **kw)


def kept(tmp_path: Path) -> list[str]:
    """What the files folder holds (uploads on their way in included)."""
    root = tmp_path / "var" / "files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_an_agents_image_is_stored_and_shown_inline(client: Client, tmp_path: Path) -> None:
    await login(client)
    resp = await upload(client, PNG, "схема.png", "image/png")
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    file = body["file"]
    assert file["content_type"] == "image/png" and file["size"] == len(PNG) and file["name"] == "схема.png"
    assert body["url"] == f"/api/files/{file['id']}"
    assert kept(tmp_path) == [file["id"]]
    got = await client.get(body["url"])
    assert got.status == 200 and await got.read() == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"].startswith("inline")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]


async def test_anything_but_an_image_is_a_download(client: Client) -> None:
    await login(client)
    file = (await (await upload(client, "Заказ 123\n".encode(), "notes.txt", "text/plain")).json())["file"]
    assert file["content_type"] == "text/plain"
    got = await client.get(f"/api/files/{file['id']}")
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "notes.txt" in got.headers["Content-Disposition"]


async def test_files_are_behind_the_login(client: Client, make_client: Any) -> None:
    await login(client)
    file = (await (await upload(client, PDF, "a.pdf")).json())["file"]
    anonymous = await make_client()
    assert (await error_of(await anonymous.get(f"/api/files/{file['id']}")))[:2] == (401, "unauthenticated")
    assert (await error_of(await upload(anonymous, PDF, "a.pdf")))[:2] == (401, "unauthenticated")


async def test_over_the_limit_is_413_and_nothing_is_kept(
        settings: Settings, make_client: Any, tmp_path: Path) -> None:
    settings.files.max_bytes = 64 * 1024
    client = await make_client()
    await login(client)
    status, code, message = await error_of(await upload(client, PDF + b"\x00" * (200 * 1024), "big.pdf"))
    assert (status, code) == (413, "file_too_large")
    assert "65536" in message
    assert kept(tmp_path) == []


@pytest.mark.parametrize(("body", "name", "declared", "code"), [
    (EXE, "photo.jpg", "image/jpeg", "file_type_forged"),           # an .exe named as a photo
    (b"<html><script>alert(1)</script></html>", "cat.png", "image/png", "file_type_forged"),
    (EXE, "setup.exe", "application/x-msdownload", "file_type_not_allowed"),
    (b"<!doctype html><p>hi", "page.html", "text/html", "file_type_not_allowed"),
    # an SVG is honestly an SVG, but can run script: not an image anyone may send
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg", "image/svg+xml",
     "file_type_not_allowed"),
])
async def test_forged_or_unwanted_types_are_415_and_nothing_is_kept(
        client: Client, tmp_path: Path, body: bytes, name: str, declared: str, code: str) -> None:
    await login(client)
    assert (await error_of(await upload(client, body, name, declared)))[:2] == (415, code)
    assert kept(tmp_path) == []


async def test_bad_upload_requests_get_clear_errors(client: Client) -> None:
    await login(client)
    assert (await error_of(await client.post("/api/files", json={"file": "x"})))[:2] == (
        415, "unsupported_media_type")
    no_file = aiohttp.FormData()
    no_file.add_field("other", b"x", filename="x.txt")
    assert (await error_of(await client.post("/api/files", data=no_file)))[:2] == (422, "invalid")
    # a page of another site posting a form with the agent's browser
    assert (await error_of(await upload(client, PDF, "a.pdf", headers={"Origin": "https://evil.example"})))[
        :2] == (403, "forbidden")


@pytest.mark.parametrize("cut", TRUNCATED)
async def test_an_upload_cut_short_is_400_and_nothing_is_kept(client: Client, tmp_path: Path,
                                                              cut: Callable[[bytes], bytes]) -> None:
    await login(client)
    whole = broken_form(("note", b"ignored"))
    resp = await client.post("/api/files", data=cut(whole), headers=HEADERS)
    assert (await error_of(resp))[:2] == (400, "bad_multipart")
    assert kept(tmp_path) == []
    resp = await client.post("/api/files", data=whole, headers=HEADERS)  # the same body whole is taken
    assert resp.status == 201 and (await resp.json())["file"]["content_type"] == "image/png"


@pytest.mark.parametrize("broken", BROKEN)
async def test_a_body_aiohttp_cannot_read_is_400_and_nothing_is_kept(client: Client, tmp_path: Path,
                                                                     broken: Callable[[str], bytes]) -> None:
    await login(client)
    resp = await client.post("/api/files", data=broken("file"), headers=HEADERS)
    assert (await error_of(resp))[:2] == (400, "bad_multipart")
    assert kept(tmp_path) == []


async def test_a_reply_refers_to_the_file_and_its_outbox_entry_holds_no_bytes(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "пришлите счёт")
    file = (await (await upload(client, PDF, "счёт.pdf", "application/pdf")).json())["file"]
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "Вот счёт", "files": [file["id"]]})
    assert resp.status == 201, await resp.text()
    [attachment] = (await resp.json())["message"]["attachments"]
    assert attachment["file"] == file["id"] and attachment["kind"] == "document"
    assert attachment["mime_type"] == "application/pdf" and attachment["name"] == "счёт.pdf"
    stored = await client.app[STORE].get_message((await resp.json())["message"]["id"])
    assert stored.attachments[0].file == file["id"]


async def test_a_reply_with_an_unknown_file_is_refused_and_nothing_is_sent(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hi")
    missing = "file_" + "0" * 20
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "see", "files": [missing]})
    assert (await error_of(resp))[:2] == (422, "file_not_found")
    messages = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert [m["author"] for m in messages] == ["customer"]


async def test_a_signed_link_needs_no_login_but_cannot_be_forged_or_outlive_it(
        client: Client, make_client: Any) -> None:
    await login(client)
    file = (await (await upload(client, PNG, "a.png")).json())["file"]
    files = client.app[FILES]
    path = await files.link(Attachment(kind="image", file=file["id"]))
    anonymous = await make_client()
    got = await anonymous.get(path)
    assert got.status == 200 and await got.read() == PNG
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert (await error_of(await anonymous.get(path.replace("sig=", "sig=x"))))[:2] == (403, "link_invalid")
    # the same signature for another file, or a later expiry, is no link
    other = (await (await upload(client, PDF, "b.pdf")).json())["file"]
    assert (await error_of(await anonymous.get(path.replace(file["id"], other["id"]))))[0] == 403
    expires = int(path.split("expires=")[1].split("&")[0])
    assert (await error_of(await anonymous.get(path.replace(f"expires={expires}", f"expires={expires + 1}"))))[
        0] == 403
    # an expired one, signed right
    secret = await client.app[STORE].secret(SECRET_NAME)
    old = signed_path(secret, file["id"], int(time.time()) - 60)
    assert (await error_of(await anonymous.get(old)))[:2] == (403, "link_invalid")


async def test_a_signed_link_to_bytes_gone_is_a_documented_410(client: Client, make_client: Any) -> None:
    """GET /api/files/{id}/signed documented 403 only; bytes gone from the storage answered 410."""
    await login(client)
    file = (await (await upload(client, PNG, "a.png")).json())["file"]
    path = await client.app[FILES].link(Attachment(kind="image", file=file["id"]))
    await client.app[FILES].blobs.delete(file["id"])
    resp = await (await make_client()).get(path)
    assert (await error_of(resp))[:2] == (410, "file_gone")
    doc = await (await client.get("/api/openapi.json")).json()
    assert {"410", "503"} <= set(doc["paths"]["/api/files/{id}/signed"]["get"]["responses"])


async def test_the_openapi_document_lists_the_upload(client: Client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    body = doc["paths"]["/api/files"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "413" in doc["paths"]["/api/files"]["post"]["responses"]


async def test_the_console_learns_the_limits_before_it_uploads(settings: Settings, make_client: Any) -> None:
    settings.files.max_bytes = 5 * 1024**2
    client = await make_client()
    await login(client)
    limits = await (await client.get("/api/file-limits")).json()
    assert limits["max_bytes"] == 5 * 1024**2 and "image/png" in limits["allowed_types"]


async def test_a_file_larger_than_any_request_body_streams_in_and_the_limit_is_ours(
        settings: Settings, make_client: Any, tmp_path: Path) -> None:
    """The app reads JSON bodies up to 1 MiB; an upload is streamed past that,
    up to files.max_bytes, and refused at that limit in our words."""
    settings.files.max_bytes = 3 * 1024**2
    client = await make_client()
    await login(client)
    ok = await upload(client, PDF + b"\0" * (2 * 1024**2), "two-mib.pdf")
    assert ok.status == 201, await ok.text()
    status, code, _ = await error_of(await upload(client, PDF + b"\0" * (4 * 1024**2), "four-mib.pdf"))
    assert (status, code) == (413, "file_too_large")
    assert kept(tmp_path) == [(await ok.json())["file"]["id"]]


@pytest.mark.parametrize(("body", "name", "declared", "stored_as", "inline"), [
    (b'<img src=x onerror="alert(1)">', "report.html", "text/html", "report.txt", False),
    (b"@echo off\r\nformat c:\r\n", "run.bat", "application/x-msdos-program", "run.txt", False),
    (b"PK\x03\x04" + b"\x00" * 64, "a.jar", "application/java-archive", "a.zip", False),
    # a JPEG's head with a script after it: an image, named as one, never served under .html
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"<script>alert(1)</script>", "photo.jpg.html",
     "text/html", "photo.jpg", True),
])
async def test_a_name_that_claims_markup_or_a_program_is_stored_under_its_types_extension(
        client: Client, body: bytes, name: str, declared: str, stored_as: str, inline: bool) -> None:
    await login(client)
    resp = await upload(client, body, name, declared)
    assert resp.status == 201, await resp.text()
    file = (await resp.json())["file"]
    assert file["name"] == stored_as
    got = await client.get(f"/api/files/{file['id']}")
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("inline" if inline else "attachment")
    assert f'filename="{stored_as}"' in disposition


async def test_a_signed_link_says_the_files_type_and_answers_head(client: Client, make_client: Any) -> None:
    """Twilio asks a HEAD of a MediaUrl and checks its Content-Type against the media."""
    await login(client)
    file = (await (await upload(client, PDF, "счёт.pdf")).json())["file"]
    path = await client.app[FILES].link(Attachment(kind="document", file=file["id"]))
    anonymous = await make_client()
    head = await anonymous.head(path)
    assert head.status == 200 and await head.read() == b""
    assert head.headers["Content-Type"] == "application/pdf" and head.headers["Content-Length"] == str(len(PDF))
    got = await anonymous.get(path)
    assert got.headers["Content-Type"] == "application/pdf" and await got.read() == PDF
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in got.headers["Content-Security-Policy"]


async def test_a_russian_name_downloads_with_an_ascii_fallback_and_its_utf8_form(client: Client) -> None:
    await login(client)
    file = (await (await upload(client, PDF, "Счёт.pdf")).json())["file"]
    got = await client.get(f"/api/files/{file['id']}")
    assert got.headers["Content-Disposition"] == (
        "attachment; filename=\"file.pdf\"; filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82.pdf")


async def test_an_upload_never_sent_is_swept_away(
        settings: Settings, make_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import router.server.files  # noqa: PLC0415
    from tests.conftest import eventually  # noqa: PLC0415

    monkeypatch.setattr(router.server.files, "SWEEP_EVERY", 0.05)
    settings.files.unreferenced_hours = 0.0001  # a third of a second
    client = await make_client()
    await login(client)
    file = (await (await upload(client, PDF, "draft.pdf")).json())["file"]

    async def gone() -> bool | None:
        # the sweep deletes the bytes, then the row: between the two the file reads 410 (its bytes gone)
        status = (await client.get(f"/api/files/{file['id']}")).status
        return True if kept(tmp_path) == [] and status == 404 else None

    await eventually(gone, "the sweep to delete the unsent upload, its bytes and its row")


async def test_an_agent_sends_only_their_own_uploads_or_files_already_in_the_thread(
        client: Client, agent_http: aiohttp.ClientSession) -> None:
    conv = await customer_writes(client, "пришлите счёт")
    others = (await (await upload(client, PDF, "чужой.pdf")).json())["file"]  # the admin's, never sent
    resp = await agent_http.post(f"/api/conversations/{conv}/messages", json={"text": "вот", "files": [others["id"]]})
    assert (await error_of(resp))[:2] == (422, "file_not_found")
    messages = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert [m["author"] for m in messages] == ["customer"]  # nothing sent
    own = (await (await upload(agent_http, PDF, "мой.pdf")).json())["file"]
    resp = await agent_http.post(f"/api/conversations/{conv}/messages", json={"text": "вот", "files": [own["id"]]})
    assert resp.status == 201, await resp.text()
    # a file already in the thread (the customer's) may be sent again there, and nowhere else
    theirs = await client.app[FILES].save(_one(PDF), "фото.pdf", None, "webchat:customer")
    await client.app[ROUTER].on_message(InboundMessage(
        channel="webchat", external_id="2", sender=IdentityRef(kind="webchat", value="visitor-1"),
        attachments=[theirs]))
    again = await agent_http.post(f"/api/conversations/{conv}/messages", json={"text": "это?", "files": [theirs.file]})
    assert again.status == 201, await again.text()
    elsewhere = await customer_writes(client, "другой", sender="visitor-2", external_id="3")
    resp = await agent_http.post(f"/api/conversations/{elsewhere}/messages", json={"text": "", "files": [theirs.file]})
    assert (await error_of(resp))[:2] == (422, "file_not_found")


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def test_another_agents_file_downloads_only_as_part_of_a_message(
        client: Client, agent_http: aiohttp.ClientSession) -> None:
    conv = await customer_writes(client, "пришлите счёт")
    draft = (await (await upload(client, PDF, "черновик.pdf")).json())["file"]  # the admin's
    assert (await error_of(await agent_http.get(f"/api/files/{draft['id']}")))[:2] == (404, "file_not_found")
    sent = await client.post(f"/api/conversations/{conv}/messages", json={"text": "Вот", "files": [draft["id"]]})
    message_id = (await sent.json())["message"]["id"]
    got = await agent_http.get(f"/api/files/{draft['id']}?message={message_id}")
    assert got.status == 200 and await got.read() == PDF
    customers = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"][0]["id"]
    assert (await error_of(await agent_http.get(f"/api/files/{draft['id']}?message={customers}")))[0] == 404
    own = (await (await upload(agent_http, PNG, "мой.png")).json())["file"]
    assert (await agent_http.get(f"/api/files/{own['id']}")).status == 200
