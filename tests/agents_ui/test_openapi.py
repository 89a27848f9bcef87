"""``/api/openapi.json`` is a valid OpenAPI 3.1 document describing every route."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from agents_ui.endpoints import ENDPOINTS
from tests.agents_ui.conftest import Client


@pytest.fixture
async def doc(client: Client) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")  # public: integrators fetch it before they have an account
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"


async def test_every_api_route_of_the_app_is_documented(client: Client, doc: dict[str, Any]) -> None:
    routes = {(r.method.lower(), r.resource.canonical) for r in client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"}
    assert routes == {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert len(routes) == len(ENDPOINTS)


async def test_bodies_answers_and_parameters_come_from_the_models(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    reply = doc["paths"]["/api/conversations/{id}/messages"]["post"]
    body_ref = reply["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[1]]
    assert body["properties"]["text"]["maxLength"] == 10_000 and body["additionalProperties"] is False
    answer_ref = reply["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert "message" in schemas[answer_ref.rsplit("/", 1)[1]]["properties"]
    assert {"ConversationView", "Message", "Customer", "Agent", "Error"} <= set(schemas)
    assert [p["name"] for p in reply["parameters"]] == ["id"]

    listing = doc["paths"]["/api/conversations"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["status"]["in"] == "query" and "resolved" in params["status"]["schema"]["enum"]
    assert params["limit"]["schema"]["maximum"] == 1000


async def test_security_is_the_session_cookie_except_for_public_routes(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["session"]
    assert scheme == {"type": "apiKey", "in": "cookie", "name": "omnirouter_session"}
    for ep in ENDPOINTS:
        op = doc["paths"][ep.path][ep.method.lower()]
        assert op["security"] == ([] if ep.public else [{"session": []}])
        assert ep.public or "401" in op["responses"]
        assert not ep.admin or "403" in op["responses"]
    assert "429" in doc["paths"]["/api/login"]["post"]["responses"]
