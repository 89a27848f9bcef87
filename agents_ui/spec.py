"""``/api/openapi.json``, generated from the endpoint registry: a route and
its documentation are one declaration, so they cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaValue, models_json_schema

from agents_ui.endpoints import ENDPOINTS, RETRY_AFTER, Endpoint, endpoint
from agents_ui.sessions import COOKIE
from router import __version__

_REF = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": _REF.format(model="Error")}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
Mode = Literal["validation", "serialization"]
Refs = dict[tuple[Any, Mode], JsonSchemaValue]


# the answers that ask a client to come back later, and say when
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 1}}}


def _json(schema: JsonSchemaValue, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(ep: Endpoint) -> dict[str, Any]:
    """The error answers this route can give, besides the catch-all."""
    codes: dict[str, str] = {}
    if not ep.public:
        codes["401"] = "not logged in"
    if ep.admin:
        codes["403"] = "admins only"
    if ep.permission is not None:
        codes["403"] = f"the caller's role lacks the {ep.permission.value} permission"
    if ep.path_params:
        codes["404"] = "no such object"
    if ep.method != "GET":
        codes.update({"400": "malformed JSON", "415": "the body is not application/json"})
    if ep.request_body is not None or ep.query is not None:
        codes["422"] = "a field is invalid; the message names it"
    if ep.store:  # an outage of the store, on any route that reads it (the session's check does)
        codes["503"] = (f"code store_unavailable: nothing was stored; try again in a moment (Retry-After, "
                        f"{RETRY_AFTER} s)")
    codes.update({str(status): why for status, why in ep.errors})
    responses = {code: _json(_ERROR_REF, why) for code, why in sorted(codes.items())}
    for code in ("429", "503"):
        if code in responses:
            responses[code]["headers"] = _RETRY_AFTER
    responses["default"] = _json(_ERROR_REF, "any other error")
    return responses


def _parameters(ep: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in ep.path_params
    ]
    if ep.query is not None:
        for name, field in ep.query.model_fields.items():
            schema = ep.query.model_json_schema()["properties"][name]
            params.append({"name": name, "in": "query", "required": field.is_required(),
                           "description": field.description or "", "schema": schema})
    return params


def _operation(ep: Endpoint, refs: Refs) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": ep.summary, "operationId": ep.handler.__name__}
    if ep.response is not None:
        ok = _json(refs[(ep.response, "serialization")], ep.response_description)
    else:
        ok = {"description": ep.response_description}
    op["responses"] = {str(ep.status): ok, **_errors(ep)}
    if ep.upload is not None:
        schema = {"type": "object", "required": [ep.upload],
                  "properties": {ep.upload: {"type": "string", "format": "binary"}}}
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    if (body := ep.request_body) is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": refs[(body, "validation")]}}}
    if params := _parameters(ep):
        op["parameters"] = params
    op["security"] = [] if ep.public else [{"session": []}]
    return op


def _schemas() -> tuple[Refs, dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], Mode]] = []
    for ep in ENDPOINTS:
        wanted += [(ep.request_body, "validation")] if ep.request_body else []
        wanted += [(ep.response, "serialization")] if ep.response else []
    wanted = sorted(set(wanted), key=lambda pair: (pair[0].__name__, pair[1]))
    refs, top = models_json_schema(wanted, ref_template=_REF)
    return Refs(refs), {**top.get("$defs", {}), "Error": _ERROR_SCHEMA}


@cache
def build() -> dict[str, Any]:
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omnirouter console API",
            "version": __version__,
            "description": "The agents' console: JSON in and out; errors are {\"error\": {\"code\", \"message\"}}. "
                           "Log in with POST /api/login; writes must be sent as application/json.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": COOKIE}},
        },
    }


@endpoint("GET", "/api/openapi.json", "This document", public=True, response_description="an OpenAPI 3.1 document",
          store=False)
async def openapi(request: web.Request, _: None) -> web.Response:
    return web.json_response(build())
