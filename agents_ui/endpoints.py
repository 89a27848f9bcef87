"""The console's JSON API: each route is declared once with its models, so
the handler, the checks and the OpenAPI document cannot drift apart."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from agents_ui.attendance import seen_at_request
from agents_ui.error_pages import error_page, wants_page
from agents_ui.sessions import AGENT, request_token_hash, session_agent
from router.agents.service import Permission, may
from router.models import Agent, Role
from router.redaction import textless_traceback
from router.store.errors import ConflictError, NotFound, StoreUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds a client is asked to wait while the store is down
# the longest request line (method, path and query) the server reads: every query the document allows, each
# character percent-encoded (GET /api/unread's 500 ids, as the console sends them), and room to spare.
# aiohttp's own default, 8190 bytes, refused such a request before any handler, in plain text
REQUEST_LINE_BYTES = 128 * 1024
# the largest body the server reads whole (a JSON body, a webhook's): an upload streams under its own limit
JSON_BODY_BYTES = 1024**2

# requests that change something; they must be JSON (see _require_json)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# an error quotes what was asked (an id, a label, a username) and what a service said of it: a value past
# these many characters is cut (and says so with "…"), so a 5,000-character id is not sent back whole
QUOTED_CHARS = 100  # one word (a run without spaces: an id, a URL) of a message, one text of the details
MESSAGE_CHARS = 500  # a message whole
_LONG_WORD = re.compile(rf"\S{{{QUOTED_CHARS + 1},}}")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: dict[str, Any] | None = None) -> None:
        message = capped(message, MESSAGE_CHARS)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        # what a client needs to offer a way out (e.g. the channels a reply can take instead)
        self.details = {k: _capped_value(v) for k, v in (details or {}).items()}


def capped(text: str, most: int = QUOTED_CHARS) -> str:
    """``text`` with each word over ``QUOTED_CHARS`` characters cut, and cut whole at ``most``: what an
    error quotes of a request stays readable, and a request cannot make its answer as long as itself."""
    text = _LONG_WORD.sub(lambda m: m.group()[:QUOTED_CHARS] + "…", text)
    return text if len(text) <= most else text[:most] + "…"


def _capped_value(value: Any) -> Any:
    if isinstance(value, str):
        return capped(value, MESSAGE_CHARS)
    if isinstance(value, list | tuple):
        return [_capped_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _capped_value(v) for k, v in value.items()}
    return value


def _error_headers(err: ApiError) -> dict[str, str]:
    headers = dict(err.headers)
    if err.status == 503:  # unavailable for now: every such answer says when to try again
        headers.setdefault("Retry-After", str(RETRY_AFTER))
    return headers


def error_response(err: ApiError) -> web.Response:
    body = {"error": {"code": err.code, "message": err.message, **err.details}}
    return web.json_response(body, status=err.status, headers=_error_headers(err))


def error_answer(request: web.Request, err: ApiError) -> web.Response:
    """The error as JSON, or as a page in the console's language for a browser that opened the
    address itself (a file, a relayed attachment in a new tab): raw JSON is no answer for a person."""
    if wants_page(request):
        return error_page(request, err.status, err.code, err.details, _error_headers(err))
    return error_response(err)


class NoBody(BaseModel):
    """No fields: send {} (every write is sent as application/json, also one without fields)."""

    model_config = ConfigDict(extra="forbid", title="NoBody")


# the second argument is the parsed input: the body model of a write, the
# query model of a read, otherwise None
Handler = Callable[[web.Request, Any], Awaitable[BaseModel | web.StreamResponse | None]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    handler: Handler
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    # only the admin role: kept for routes written before permissions; name a ``permission``
    # instead (tests/agents_ui/test_permissions.py refuses a route that sets this)
    admin: bool = False
    # for routes whose answer is no JSON model (the websocket, the document itself)
    response_description: str = "ok"
    # route-specific error answers, for the document: ((409, "why"), ...)
    errors: tuple[tuple[int, str], ...] = ()
    # a multipart/form-data upload with the file in this field, read by the handler itself (streamed)
    upload: str | None = None
    # a right the caller's role must hold (router.agents.service.GRANTS); admins hold every one
    permission: Permission | None = None
    # False for a route that reads no store (the document itself): it can give no 503 store_unavailable
    store: bool = True

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def request_body(self) -> type[BaseModel] | None:
        """The JSON body the route takes, as checked and as documented: a write without a model of
        its own takes ``NoBody`` (``{}``, or nothing), since it must be JSON all the same; an upload
        and a read take none."""
        if self.upload is not None or self.method not in _WRITES:
            return None
        return self.body or NoBody


ENDPOINTS: list[Endpoint] = []


def endpoint(
    method: str, path: str, summary: str, *, body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None, response: type[BaseModel] | None = None, status: int = 200,
    public: bool = False, admin: bool = False, response_description: str = "ok",
    errors: tuple[tuple[int, str], ...] = (), upload: str | None = None, permission: Permission | None = None,
    store: bool = True,
) -> Callable[[Handler], Handler]:
    if body is not None and query is not None:
        raise ValueError(f"{method} {path}: a handler takes a body model or a query model, not both")

    def register(handler: Handler) -> Handler:
        # a handler that answers nothing is answered 204 No Content (_render): so the document must say
        if handler.__annotations__.get("return") in ("None", None) and status != 204:
            raise ValueError(f"{method} {path}: its handler returns nothing, which is answered 204: say status=204")
        ENDPOINTS.append(Endpoint(method, path, summary, handler, body, query, response, status, public, admin,
                                  response_description, errors, upload, permission, store))
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
    if ep.permission is not None and not may(agent.role, ep.permission):
        raise ApiError(403, "forbidden", f"your role may not do this ({ep.permission.value})")
    request[AGENT] = agent
    await seen_at_request(request.app, request_token_hash(request))  # somebody is at work there


def _validate(model: type[BaseModel], raw: Any, part: str = "body") -> BaseModel:
    """``raw`` as ``model``; a 422 naming the field, or ``part`` (the body, the query) when the
    problem is of the whole (a range whose end is before its start)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or part
        # the kind of problem and its limits, for a client to say it in its own language
        limits = {k: str(v) for k, v in (first.get("ctx") or {}).items() if isinstance(v, str | int | float)}
        raise ApiError(422, "invalid", f"{where}: {first['msg']}",
                       details={"field": where, "problem": first["type"], **limits}) from None


async def _json_body(request: web.Request) -> Any:
    # every write must say JSON, with or without a body: a cross-site HTML form
    # cannot send that content type without a CORS preflight (CSRF)
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
        # JSON lets "\ud800" through, a lone half of a UTF-16 pair: no text any
        # store can keep, so refused here, once for every endpoint, not a 500 later
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "bad_json", "the body holds text that is not Unicode (a lone surrogate escape)") from None
    except RecursionError:  # a nesting bomb: the parser stops at the interpreter's recursion limit
        raise ApiError(400, "bad_json", "the body nests too deeply") from None
    except ValueError:  # not JSON, not UTF-8, NaN or Infinity, an integer of thousands of digits
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON number")


async def _parse(request: web.Request, ep: Endpoint) -> BaseModel | None:
    if ep.upload is not None:
        return None  # the handler streams the multipart body itself (router.files)
    if (model := ep.request_body) is not None:
        # NoBody too is checked: a write without a model of its own refuses fields it would ignore,
        # and any JSON that is no object (null, [], 0), as its documented body says
        parsed = _validate(model, await _json_body(request))
        return None if model is NoBody else parsed
    if ep.query is not None:
        _once_each(ep.query, request)
        return _validate(ep.query, dict(request.query), "query")
    return None


def _once_each(model: type[BaseModel], request: web.Request) -> None:
    """A parameter of the query given twice (?status=queued&status=assigned) is refused: each takes
    one value, and the first alone was used, silently, as if the others had not been asked for."""
    for name in model.model_fields:
        if (times := len(request.query.getall(name, []))) > 1:
            raise ApiError(422, "invalid", f"{name}: given {times} times; give it once",
                           details={"field": name, "problem": "repeated", "times": times})


def _render(ep: Endpoint, result: BaseModel | web.StreamResponse | None) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=204)
    return web.Response(text=result.model_dump_json(), status=ep.status, content_type="application/json")


def _bind(ep: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            await _authorise(request, ep)
            return _render(ep, await ep.handler(request, await _parse(request, ep)))
        except ApiError as err:
            return error_answer(request, err)
        except NotFound as exc:
            return error_answer(request, ApiError(404, "not_found", f"no such {exc}"))
        except ConflictError as exc:
            return error_answer(request, ApiError(409, "conflict", str(exc)))
        except StoreUnavailable as exc:  # an outage, logged once by the store: nothing was stored, try again
            return error_answer(request, _outage(exc))

    return handle


def _outage(exc: StoreUnavailable) -> ApiError:
    return ApiError(503, "store_unavailable", f"nothing was stored: {exc.reason}; try again in a moment",
                    {"Retry-After": str(RETRY_AFTER)})


def _too_large() -> ApiError:
    """A body over the limit, saying the limit (aiohttp's own words were "Request Entity Too Large")."""
    mib = JSON_BODY_BYTES / 1024**2
    return ApiError(413, "too_large", f"the body is larger than {mib:g} MiB ({JSON_BODY_BYTES} bytes), the most a "
                    "request may send; a file goes by POST /api/files, under its own limit (GET /api/file-limits)",
                    details={"limit": JSON_BODY_BYTES, "limit_mb": f"{mib:g}"})


@web.middleware
def json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> Awaitable[web.StreamResponse]:
    """Under /api/ every error is JSON, also aiohttp's own (unknown path, wrong
    method, body too large) and a bug's 500, so clients parse one shape.

    No coroutine itself: elsewhere (a webhook, the site chat) it hands aiohttp the handler's own
    awaitable, so such a request runs through one coroutine frame fewer, on each of its resumptions."""
    if request.path.startswith("/api/"):
        return _json_errors(request, handler)
    return handler(request)


async def _json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        if exc.status == 413:
            return error_answer(request, _too_large())
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_answer(request, ApiError(exc.status, code, exc.reason, headers))
    except StoreUnavailable as exc:
        return error_answer(request, _outage(exc))
    except Exception as exc:
        # the last resort of every /api/ request, kept on purpose: a bug in a
        # handler still answers the one JSON shape, and is logged once, here.
        # asyncio.CancelledError (a client gone) is no Exception and passes.
        # The words of a bug's error may quote a customer or an agent's
        # reply: the frames only
        log.error("console API %s %s failed\n%s", request.method, request.path, textless_traceback(exc))
        return error_answer(request, ApiError(500, "internal", "internal error; see the server log"))


def mount(app: web.Application) -> None:
    app.middlewares.append(json_errors)
    for ep in ENDPOINTS:
        # a GET answers HEAD too, its headers alone (aiohttp's add_get does the same; Twilio asks a HEAD of a MediaUrl)
        if ep.method == "GET":
            app.router.add_get(ep.path, _bind(ep))
        else:
            app.router.add_route(ep.method, ep.path, _bind(ep))
