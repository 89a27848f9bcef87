"""The console API on the real service: bodies, errors, conversations,
customers and what agents may do to them."""

from __future__ import annotations

import aiohttp
import pytest

from router.appkeys import STORE
from tests.agents_ui.conftest import Client, customer_writes, error_of, login

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def conv(client: Client) -> str:
    await login(client)
    return await customer_writes(client, "hi")


# the last four were 500s: a nesting bomb (RecursionError), an integer of thousands of digits (Python's
# limit on their conversion), NaN and Infinity (no JSON numbers)
BAD_JSON = [b"{not json", b'{"text": "\xff\xfe"}', b'{"text": "hi"', b'{"text": "a \\ud800 b"}',
            b'{"text": "ok", "x": {"y": ["\\udc00"]}}', b"[" * 50000 + b"]" * 50000,
            b'{"text": ' + b"9" * 5000 + b"}", b'{"text": "hi", "x": NaN}', b'{"text": "hi", "x": -Infinity}']


@pytest.mark.parametrize("data", BAD_JSON)
async def test_malformed_json_is_400(client: Client, conv: str, data: bytes) -> None:
    resp = await client.post(f"/api/conversations/{conv}/messages", data=data,
                             headers={"Content-Type": "application/json"})
    assert (await error_of(resp))[:2] == (400, "bad_json")


@pytest.mark.parametrize("data", BAD_JSON[-4:])
async def test_the_login_refuses_it_too_before_any_session(client: Client, data: bytes) -> None:
    resp = await client.post("/api/login", data=data, headers={"Content-Type": "application/json"})
    assert (await error_of(resp))[:2] == (400, "bad_json")


@pytest.mark.parametrize("path", ["/messages", "/resolve", "/assign"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
async def test_writes_must_be_json_even_without_a_body(client: Client, conv: str, path: str,
                                                       content_type: str) -> None:
    """What a cross-site HTML form can send is refused (CSRF)."""
    resp = await client.post(f"/api/conversations/{conv}{path}", data="text=hi",
                             headers={"Content-Type": content_type})
    assert (await error_of(resp))[:2] == (415, "unsupported_media_type")
    detail = await (await client.get(f"/api/conversations/{conv}")).json()
    assert detail["conversation"]["status"] == "queued"


async def test_logout_without_content_type_is_refused(client: Client) -> None:
    await login(client)
    assert (await error_of(await client.post("/api/logout")))[:2] == (415, "unsupported_media_type")
    assert (await client.get("/api/me")).status == 200


async def test_an_empty_json_write_is_fine(client: Client, conv: str) -> None:
    resp = await client.post(f"/api/conversations/{conv}/assign", data=b"",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 200 and (await resp.json())["conversation"]["status"] == "assigned"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"txt": "hi"}, "text"),
        ({"text": "hi", "html": True}, "html"),
        ([], "body"),
        # as a note refuses it: it was stored as written on SQLite and as U+FFFD on PostgreSQL
        ({"text": "a\u0000b"}, "text"),
    ],
)
async def test_invalid_replies_are_422_naming_the_field(client: Client, conv: str, body: object,
                                                         field: str) -> None:
    url = f"/api/conversations/{conv}/messages"
    status, code, message = await error_of(await client.post(url, json=body))
    assert (status, code) == (422, "invalid") and message.startswith(field), message
    assert [m["text"] for m in (await (await client.get(url)).json())["messages"]] == ["hi"]


async def test_a_body_where_none_is_expected_is_422(client: Client, conv: str) -> None:
    status, code, message = await error_of(await client.post(f"/api/conversations/{conv}/resolve",
                                                             json={"force": True}))
    assert (status, code) == (422, "invalid") and message.startswith("force")


@pytest.mark.parametrize("query", ["status=lost", "limit=0", "limit=1001", "limit=many"])
async def test_invalid_list_queries_are_422(client: Client, conv: str, query: str) -> None:
    status, code, message = await error_of(await client.get(f"/api/conversations?{query}"))
    assert (status, code) == (422, "invalid") and message.startswith(query.split("=", maxsplit=1)[0])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/conversations/conv_missing"),
        ("GET", "/api/conversations/conv_missing/messages"),
        ("POST", "/api/conversations/conv_missing/messages"),
        ("POST", "/api/conversations/conv_missing/assign"),
        ("POST", "/api/conversations/conv_missing/resolve"),
        ("GET", "/api/customers/cus_missing"),
        ("GET", "/api/nothing/here"),
    ],
)
async def test_unknown_ids_and_paths_are_json_404(client: Client, method: str, path: str) -> None:
    await login(client)
    body = ({"text": "hi"} if path.endswith("/messages") else {}) if method == "POST" else None
    resp = await client.request(method, path, json=body)
    assert (await error_of(resp))[:2] == (404, "not_found")


async def test_aiohttp_errors_under_api_are_json_too(client: Client) -> None:
    await login(client)
    resp = await client.delete("/api/me")
    assert (await error_of(resp))[:2] == (405, "method_not_allowed") and "GET" in resp.headers["Allow"]
    resp = await client.post("/api/agents", data=b"{" + b" " * 2 * 1024**2 + b"}",
                             headers={"Content-Type": "application/json"})
    assert (await error_of(resp))[:2] == (413, "too_large")


async def test_conversations_are_listed_by_status_most_recent_first(client: Client) -> None:
    await login(client)
    first = await customer_writes(client, "first", sender="v1", external_id="1")
    second = await customer_writes(client, "second", sender="v2", external_id="2", name=None)
    await customer_writes(client, "first again", sender="v1", external_id="3")

    async def listed(query: str = "") -> list[tuple[str, str | None, str]]:
        body = await (await client.get(f"/api/conversations{query}")).json()
        return [(c["id"], c["customer_name"], c["last_message_text"]) for c in body["conversations"]]

    assert await listed() == [(first, "Анна", "first again"), (second, None, "second")]
    assert await listed("?limit=1") == [(first, "Анна", "first again")]
    assert await client.post(f"/api/conversations/{second}/resolve", json={})
    assert [c[0] for c in await listed("?status=resolved")] == [second]
    assert [c[0] for c in await listed("?status=queued")] == [first]
    assert [c[0] for c in await listed("?status=open")] == [first]
    assert [c[0] for c in await listed("?status=all&cache_buster=1")] == [first, second]


async def test_a_conversation_its_messages_and_its_customer(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "one")
    await customer_writes(client, "two", external_id="2")
    detail = await (await client.get(f"/api/conversations/{conv}")).json()
    assert detail["conversation"]["status"] == "queued" and detail["customer"]["display_name"] == "Анна"
    messages = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert [(m["text"], m["author"], m["delivery"]) for m in messages] == [
        ("one", "customer", "received"), ("two", "customer", "received")]
    latest = (await (await client.get(f"/api/conversations/{conv}/messages?limit=1")).json())["messages"]
    assert [m["text"] for m in latest] == ["two"]

    customer = await (await client.get(f"/api/customers/{detail['customer']['id']}")).json()
    assert customer["customer"]["display_name"] == "Анна"
    assert [i["ref"] for i in customer["identities"]] == [{"kind": "webchat", "value": "visitor-1"}]
    assert [c["id"] for c in customer["conversations"]] == [conv]


async def test_markup_is_returned_verbatim_never_escaped_or_stripped(client: Client) -> None:
    """The API hands text over as it is; the page shows it as text (tests/e2e)."""
    await login(client)
    conv = await customer_writes(client, XSS, name=XSS)
    listed = (await (await client.get("/api/conversations")).json())["conversations"]
    assert (listed[0]["customer_name"], listed[0]["last_message_text"]) == (XSS, XSS)
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": f"  {XSS}  "})
    assert (await resp.json())["message"]["text"] == XSS
    messages = (await (await client.get(f"/api/conversations/{conv}/messages")).json())["messages"]
    assert [m["text"] for m in messages] == [XSS, XSS]


async def test_a_reply_is_pending_then_assigns_the_replier(client: Client, conv: str) -> None:
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "  Здравствуйте!\n "})
    assert resp.status == 201
    reply = (await resp.json())["message"]
    assert (reply["text"], reply["author"], reply["direction"], reply["delivery"]) == (
        "Здравствуйте!", "agent", "out", "pending")
    me = (await (await client.get("/api/me")).json())["agent"]
    detail = await (await client.get(f"/api/conversations/{conv}")).json()
    assert (detail["conversation"]["status"], detail["conversation"]["agent_id"]) == ("assigned", me["id"])


async def test_resolved_conversations_take_no_more_actions(client: Client, conv: str) -> None:
    resp = await client.post(f"/api/conversations/{conv}/resolve", json={})
    assert resp.status == 200 and (await resp.json())["conversation"]["status"] == "resolved"
    for path, body in (("messages", {"text": "again"}), ("assign", {}), ("resolve", {})):
        status, code, message = await error_of(await client.post(f"/api/conversations/{conv}/{path}", json=body))
        assert (status, code) == (409, "conflict") and "resolved" in message


async def test_agents_take_queued_work_but_not_a_colleagues(client: Client, agent_http: aiohttp.ClientSession,
                                                            ) -> None:
    conv = await customer_writes(client, "hi")
    ann = (await (await agent_http.get("/api/me")).json())["agent"]
    admin = (await (await client.get("/api/me")).json())["agent"]
    # an agent may not hand work to someone else
    resp = await agent_http.post(f"/api/conversations/{conv}/assign", json={"agent_id": admin["id"]})
    assert (await error_of(resp))[:2] == (403, "forbidden")
    resp = await agent_http.post(f"/api/conversations/{conv}/assign", json={})
    assert (await resp.json())["conversation"]["agent_id"] == ann["id"]

    # the admin's own reply, take or resolve is allowed; a second agent's is not
    await client.post(f"/api/conversations/{conv}/assign", json={"agent_id": admin["id"]})
    for path, body in (("assign", {}), ("resolve", {}), ("messages", {"text": "mine now"})):
        resp = await agent_http.post(f"/api/conversations/{conv}/{path}", json=body)
        status, code, message = await error_of(resp)
        assert (status, code) == (409, "conflict") and "another agent" in message

    # the admin hands it back
    resp = await client.post(f"/api/conversations/{conv}/assign", json={"agent_id": ann["id"]})
    assert (await resp.json())["conversation"]["agent_id"] == ann["id"]
    resp = await agent_http.post(f"/api/conversations/{conv}/resolve", json={})
    assert (await resp.json())["conversation"]["status"] == "resolved"
    assert (await client.app[STORE].get_conversation(conv)).agent_id == ann["id"]


async def test_assigning_to_an_unknown_agent_is_404(client: Client, conv: str) -> None:
    resp = await client.post(f"/api/conversations/{conv}/assign", json={"agent_id": "agt_nobody"})
    status, code, message = await error_of(resp)
    assert (status, code) == (404, "not_found") and "agt_nobody" in message
