"""``/api/openapi.json``, generated from the endpoint registry."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from agents_ui.endpoints import ENDPOINTS, Endpoint
from router import __version__

_REF = "#/components/schemas/{model}"
_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}


def _operation(ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": ep.summary, "operationId": ep.handler.__name__, "responses": {}}
    if ep.response is not None and ep.status != 204:
        schema = {"$ref": _REF.format(model=ep.response.__name__)}
        op["responses"][str(ep.status)] = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    else:
        op["responses"][str(ep.status)] = {"description": "ok"}
    op["responses"]["default"] = _ERROR
    if ep.body is not None:
        schema = {"$ref": _REF.format(model=ep.body.__name__)}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if "{id}" in ep.path:
        op["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    op["security"] = [] if ep.public else [{"session": []}]
    return op


def build() -> dict[str, Any]:
    models: set[type[BaseModel]] = {m for ep in ENDPOINTS for m in (ep.body, ep.response) if m is not None}
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=_REF
    )
    components = dict(schemas.get("$defs", {}))
    components["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"},
                                                                    "message": {"type": "string"}}}},
        "required": ["error"],
    }
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep)
    return {
        "openapi": "3.1.0",
        "info": {"title": "omnirouter console API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "omnirouter_session"}},
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build())
