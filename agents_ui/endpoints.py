"""The console's JSON API: each route is declared once with its models, so
the handler, the checks and the OpenAPI document cannot drift apart."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from agents_ui.sessions import AGENT, session_agent
from router.models import Agent, Role
from router.store import ConflictError, NotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(err: ApiError) -> web.Response:
    body = {"error": {"code": err.code, "message": err.message}}
    return web.json_response(body, status=err.status, headers=err.headers)


Handler = Callable[[web.Request, Any], Awaitable[BaseModel | web.StreamResponse | None]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    handler: Handler
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    admin: bool = False


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str, path: str, summary: str, *, body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None, status: int = 200, public: bool = False, admin: bool = False,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ENDPOINTS.append(Endpoint(method, path, summary, handler, body, response, status, public, admin))
        return handler

    return register


def current_agent(request: web.Request) -> Agent:
    return request[AGENT]


async def _authorise(request: web.Request, ep: Endpoint) -> None:
    if ep.public:
        return
    agent = await session_agent(request)
    if agent is None:
        raise ApiError(401, "unauthenticated", "log in first")
    if ep.admin and agent.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins may do this")
    request[AGENT] = agent


async def _parse_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    # requiring JSON also defeats cross-site form posts (CSRF)
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(422, "invalid", f"{where}: {first['msg']}") from None


def _bind(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            await _authorise(request, ep)
            body = await _parse_body(request, ep.body) if ep.body is not None else None
            result = await ep.handler(request, body)
        except ApiError as err:
            return error_response(err)
        except NotFound as exc:
            return error_response(ApiError(404, "not_found", str(exc)))
        except ConflictError as exc:
            return error_response(ApiError(409, "conflict", str(exc)))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        return web.Response(
            text=result.model_dump_json(), status=ep.status, content_type="application/json"
        )

    return handle


def mount(app: web.Application) -> None:
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, _bind(ep))
