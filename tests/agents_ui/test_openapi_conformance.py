"""The server answers what ``/api/openapi.json`` says (DESIGN.md: public contract): every
status it gives is one the operation documents, as the Error schema; the body the
document asks a write for is the body the server takes; every query the document
allows reaches the handler. Found by running schemathesis against a real server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web

from agents_ui.endpoints import ENDPOINTS, Endpoint, endpoint
from router.appkeys import ROUTER, STORE
from router.config import Settings
from router.models import Attachment, IdentityRef, InboundMessage
from router.store.errors import StoreUnavailable
from tests.agents_ui.conftest import Client, customer_writes, error_of, login
from tests.conftest import AppClient


@pytest.fixture
async def doc(client: Client) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


def _operation(doc: dict[str, Any], ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][ep.path][ep.method.lower()]
    return op


def _url(ep: Endpoint) -> str:
    return re.sub(r"{\w+}", "nope", ep.path)


async def answered_as_documented(doc: dict[str, Any], ep: Endpoint, resp: aiohttp.ClientResponse) -> None:
    """``resp`` is an answer ``ep``'s operation lists (not only the catch-all), and an error is
    the documented Error object with the documented headers."""
    responses = _operation(doc, ep)["responses"]
    assert str(resp.status) in responses, f"{ep.method} {ep.path} answered {resp.status}: not documented"
    if resp.status >= 400:
        assert resp.content_type == "application/json", await resp.text()
        body = await resp.json()  # the Error schema: {"error": {"code": str, "message": str, ...}}
        assert list(body) == ["error"] and isinstance(body["error"], dict), body
        assert isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str), body
    for header in responses[str(resp.status)].get("headers", {}):
        assert header in resp.headers, f"{ep.method} {ep.path} {resp.status} lacks its documented {header}"


WRITES_WITHOUT_FIELDS = [ep for ep in ENDPOINTS if ep.method != "GET" and ep.body is None and ep.upload is None]


def _name(ep: Endpoint) -> str:
    return f"{ep.method} {ep.path}"


async def test_every_write_documents_the_json_body_the_server_requires(doc: dict[str, Any]) -> None:
    """A write without fields must be sent as JSON all the same (CSRF): it was documented with no
    request body at all, so a client generated from the document sent none, without a content type,
    and every such call (resolve's siblings: open, reopen, bot, deactivate, ...) was refused 415."""
    schemas = doc["components"]["schemas"]
    for ep in ENDPOINTS:
        if ep.method == "GET" or ep.upload is not None:
            continue
        body = _operation(doc, ep).get("requestBody")
        assert body is not None and body["required"] is True, _name(ep)
        assert list(body["content"]) == ["application/json"], _name(ep)
        schema = schemas[body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        assert schema["type"] == "object" and schema["additionalProperties"] is False, _name(ep)
        if ep.body is None:
            assert schema["properties"] == {}, _name(ep)


@pytest.mark.parametrize("ep", WRITES_WITHOUT_FIELDS, ids=_name)
async def test_a_write_without_fields_takes_an_empty_object_only(client: Client, doc: dict[str, Any],
                                                                 ep: Endpoint) -> None:
    """null, [], 0 and false were taken as if {} had been sent; anything but an object is 422 now,
    before anything is looked up or changed."""
    await login(client)
    for data in (b"null", b"[]", b"0", b"false", b'"x"', b'{"force": true}'):
        resp = await client.request(ep.method, _url(ep), data=data, headers={"Content-Type": "application/json"})
        status, code, _ = await error_of(resp)
        assert (status, code) == (422, "invalid"), (_name(ep), data)
        await answered_as_documented(doc, ep, resp)
    assert (await client.get("/api/me")).status == 200  # the logout too refused it, and ended nothing


async def test_a_write_without_fields_works_as_documented(client: Client, doc: dict[str, Any]) -> None:
    conv = await customer_writes(client, "hi")
    await login(client)
    ep = next(e for e in WRITES_WITHOUT_FIELDS if e.path == "/api/conversations/{id}/reopen")
    await (await client.post(f"/api/conversations/{conv}/resolve", json={})).read()
    resp = await client.post(f"/api/conversations/{conv}/reopen", json={})
    assert resp.status == 200, await resp.text()
    await answered_as_documented(doc, ep, resp)


async def test_a_route_that_answers_nothing_is_documented_204(client: Client, doc: dict[str, Any]) -> None:
    """POST /api/conversations/{id}/open answered 204 No Content, documented as 200 (with nothing in it)."""
    conv = await customer_writes(client, "hi")
    await login(client)
    await (await client.post(f"/api/conversations/{conv}/assign", json={})).read()
    resp = await client.post(f"/api/conversations/{conv}/open", json={})
    assert resp.status == 204
    await answered_as_documented(doc, _endpoint("POST", "/api/conversations/{id}/open"), resp)
    with pytest.raises(ValueError, match="status=204"):
        endpoint("POST", "/api/nothing", "answers nothing")(_answers_nothing)


async def _answers_nothing(request: web.Request, _: None) -> None:
    """A handler of no route: endpoint() refuses to register it without status=204."""


async def test_the_live_socket_refuses_a_plain_request_and_another_site_as_documented(
        client: Client, doc: dict[str, Any]) -> None:
    """GET /api/ws documented 101 only: a plain GET got aiohttp's 400 "Bad Request", another site's
    Origin a 403, neither in the document."""
    await login(client)
    ep = _endpoint("GET", "/api/ws")
    plain = await client.get("/api/ws")
    assert (await error_of(plain))[:2] == (400, "not_websocket")
    await answered_as_documented(doc, ep, plain)
    elsewhere = await client.get("/api/ws", headers={"Origin": "https://evil.example"})
    assert (await error_of(elsewhere))[:2] == (403, "forbidden")
    await answered_as_documented(doc, ep, elsewhere)


@pytest.mark.parametrize("query", ["status=all&limit=1&limit=3", "status=queued&status=assigned",
                                   "status=all&status=bogus"])
async def test_a_query_parameter_given_twice_is_refused_not_half_read(client: Client, doc: dict[str, Any],
                                                                      query: str) -> None:
    """The first value alone was used, silently: ?status=queued&status=assigned listed the queued ones
    as if that were all that was asked, and a second, invalid value passed unseen."""
    await login(client)
    await customer_writes(client, "hi")
    resp = await client.get(f"/api/conversations?{query}")
    status, code, message = await error_of(resp)
    field = "limit" if "limit=3" in query else "status"
    assert (status, code) == (422, "invalid") and message.startswith(f"{field}: given 2 times"), message
    error = (await resp.json())["error"]
    assert (error["field"], error["problem"]) == (field, "repeated")
    await answered_as_documented(doc, _endpoint("GET", "/api/conversations"), resp)
    assert (await client.get("/api/conversations?status=all&utm_source=a&utm_source=b")).status == 200  # not ours


async def test_an_attachment_no_platform_keeps_is_a_404_not_a_platforms_502(
        settings: Settings, make_client: AppClient) -> None:
    """The relay asked the site chat's connector, which keeps no files, for a visitor's file or an
    agent's link, and answered 502 media_unavailable: a failure of a platform that never failed.
    Schemathesis's not_a_server_error flagged it."""
    settings.connectors = Settings().connectors  # the site chat running, as on a default install
    client = await make_client()
    await login(client)
    files = [Attachment(kind="other"), Attachment(kind="document", file="file_0123456789abcdef0123")]
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="webchat", external_id="1", sender=IdentityRef(kind="webchat", value="visitor-1"), text="see",
        attachments=files))
    assert accepted.conversation_id is not None
    [message] = (await (await client.get(f"/api/conversations/{accepted.conversation_id}/messages")).json())[
        "messages"]
    doc = await (await client.get("/api/openapi.json")).json()
    ep = _endpoint("GET", "/api/messages/{id}/attachments/{index}")
    for index in (0, 1):
        resp = await client.get(f"/api/messages/{message['id']}/attachments/{index}")
        assert (await error_of(resp))[:2] == (404, "not_relayed")
        await answered_as_documented(doc, ep, resp)
    assert "/api/files/file_0123456789abcdef0123" in (await error_of(resp))[2]


def _endpoint(method: str, path: str) -> Endpoint:
    return next(ep for ep in ENDPOINTS if (ep.method, ep.path) == (method, path))


async def test_an_unknown_agent_given_to_presence_is_a_documented_404(client: Client, doc: dict[str, Any]) -> None:
    await login(client)
    resp = await client.post("/api/presence", json={"agent_id": "agt_nobody", "presence": "away"})
    assert (await error_of(resp))[:2] == (404, "not_found")
    await answered_as_documented(doc, _endpoint("POST", "/api/presence"), resp)


async def test_an_upload_without_its_file_is_a_documented_422(client: Client, doc: dict[str, Any]) -> None:
    await login(client)
    no_file = aiohttp.FormData()
    no_file.add_field("other", b"x", filename="x.txt")
    resp = await client.post("/api/files", data=no_file)
    assert (await error_of(resp))[:2] == (422, "invalid")
    await answered_as_documented(doc, _endpoint("POST", "/api/files"), resp)


async def test_a_store_outage_is_a_documented_503_on_every_route_that_reads_the_store(
        client: Client, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for ep in ENDPOINTS:
        responses = _operation(doc, ep)["responses"]
        if ep.path == "/api/openapi.json":
            assert "503" not in responses  # it reads nothing
            continue
        assert "503" in responses and "Retry-After" in responses["503"]["headers"], _name(ep)
    await login(client)

    async def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("the disk is full")

    monkeypatch.setattr(client.app[STORE], "list_conversations", down)
    resp = await client.get("/api/conversations")
    assert (await error_of(resp))[:2] == (503, "store_unavailable")
    await answered_as_documented(doc, _endpoint("GET", "/api/conversations"), resp)


async def test_the_console_asks_for_as_many_unread_counts_as_the_document_allows(
        client: Client, doc: dict[str, Any]) -> None:
    """The console asks about up to 500 conversations, their ids joined by encoded commas; past about
    290 the request line was longer than aiohttp's default limit (8190 bytes), and the answer was a
    plain-text 400 from aiohttp, which the console cannot read: no unread badges."""
    await login(client)
    conv = await customer_writes(client, "hi")
    ids = [conv] + [f"conv_{n:020x}" for n in range(499)]
    resp = await client.get(f"/api/unread?ids={quote(','.join(ids), safe='')}")  # as encodeURIComponent
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["unread"][conv] == 1
    await answered_as_documented(doc, _endpoint("GET", "/api/unread"), resp)


def _longest(schema: dict[str, Any]) -> str | None:
    """The longest value of a query parameter its schema allows, percent-encoded the longest: a
    character of four bytes in UTF-8, twelve once encoded, or, where a pattern keeps to ASCII (every
    pattern of this API does), a comma, three; None for a parameter without a documented bound (left out)."""
    options = schema.get("anyOf", [schema])
    for option in options:
        if option.get("type") == "string" and "maxLength" in option:
            return ("," if "pattern" in option else "\N{MUSICAL SYMBOL G CLEF}") * int(option["maxLength"])
        if option.get("type") == "integer" and "maximum" in option:
            return str(option["maximum"])
        if "enum" in option:
            return str(max(option["enum"], key=lambda v: len(str(v))))
    return None


async def test_every_query_the_document_allows_reaches_the_api(client: Client, doc: dict[str, Any]) -> None:
    """The longest query of each read, by the document's own bounds, gets an answer of the API (a
    documented status, JSON when an error), never aiohttp's plain-text refusal of a long line."""
    await login(client)
    for ep in ENDPOINTS:
        op = _operation(doc, ep)
        params = {p["name"]: _longest(p["schema"]) for p in op.get("parameters", []) if p["in"] == "query"}
        query = {name: value for name, value in params.items() if value is not None}
        if ep.method != "GET" or not query:
            continue
        resp = await client.get(f"{_url(ep)}?{urlencode(query)}")
        await answered_as_documented(doc, ep, resp)
