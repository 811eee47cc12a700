"""The route registry and the OpenAPI document generated from it.

Every route of the API is declared with ``documented``, which wraps ``Blueprint.route``:

    @documented(bp, "/incidents", methods=["POST"], body=CreateIncident, responses={201: Incident},
                scope="marketer", summary="Open an incident")
    def create_incident(call: Call):
        ...

The wrapper authorizes the key for ``scope`` (None: public), parses and validates the
body and the query string, turns domain errors into JSON errors (unknown id 404, stale
version 409, rule broken 422) and the view's return value into a JSON response. A write
attempt on a route with a scope that no service recorded in the audit log (refused,
failed, or a route without a domain entry) is recorded here (see ``auth``). It also
records the route, so ``GET /openapi.json`` describes every route without anyone editing
the generator. Routes not made with ``documented`` (``/health`` in app.py) are declared
with ``describe``.

The document links operations as a client chains them: a collection's create route (a
201 whose body has an ``id``, e.g. ``POST /incidents``) links to every route under
``<collection>/{id}`` with no other parameter, the id taken from ``$response.body#/id``,
so stateful tests follow them.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from chalice import CORSConfig, Response
from chalice.app import ChaliceViewError

from chalicelib.api import http
from chalicelib.api.models import Response as Answer
from chalicelib.store.audit import AuditStore
from chalicelib.store.table import Conflict

log = logging.getLogger("beacon.api")
# A body, query or answer: a struct of chalicelib.api.models (or of the module that owns the route).
Shape = type[msgspec.Struct]


class ErrorField(Answer, kw_only=True):
    field: str
    problem: str


class Error(Answer, kw_only=True):
    """Every error the API answers with."""

    error: str
    message: str
    fields: list[ErrorField] | None = None


class RouteDoc(msgspec.Struct):
    path: str
    method: str
    summary: str
    tag: str
    scope: str | None
    body: Shape | None
    query: Shape | None
    responses: dict[int, Shape | str | None]
    content_types: tuple[str, ...] = ("application/json",)
    operation_id: str = ""
    pages: bool = False  # answers browsers with HTML pages too (``browsers``)


class Call(msgspec.Struct):
    """What a view gets: the request, the caller's key, the parsed body, query and If-Match version."""

    request: Any
    key: Any = None
    body: Any = None
    query: Any = None
    if_match: int | None = None
    params: dict[str, str] = msgspec.field(default_factory=dict)

    def version(self) -> int | None:
        """The version the client read: If-Match, else the body's ``version`` field."""
        if self.if_match is not None:
            return self.if_match
        return getattr(self.body, "version", None)


class Browsers(Protocol):
    """How a route answers people in a browser as well as scripts (the sign-up pages in ``api.signup``).

    ``refuse`` runs before anything else and raises ``http.Forbidden`` for a post another
    site's page made; ``finish`` gets every answer (an error as ``error``) and may render it
    as a page and add the route's CORS headers; ``preflight`` answers the route's OPTIONS.
    """

    def refuse(self, request) -> None: ...

    def finish(self, request, response: Response, error: http.ApiError | None) -> Response: ...

    def preflight(self, request) -> Response: ...


REGISTRY: dict[tuple[str, str], RouteDoc] = {}

# Browser integrations send If-Match and read ETag across origins; keys, not cookies, authenticate.
CORS = CORSConfig(allow_origin="*", allow_headers=["If-Match"], expose_headers=["ETag"], max_age=600)


def describe(path: str, methods: list[str], *, summary: str, responses: dict[int, Shape | str | None],
             tag: str = "meta", scope: str | None = None, body: Shape | None = None,
             query: Shape | None = None, operation_id: str = "") -> None:
    for method in methods:
        REGISTRY[(path, method.upper())] = RouteDoc(path, method.upper(), summary, tag, scope, body, query,
                                                    responses, operation_id=operation_id or _operation_id(method, path))


def documented(bp, path: str, *, methods: list[str], summary: str, responses: dict[int, Shape | str | None],
               body: Shape | None = None, query: Shape | None = None,
               scope: str | None = None, tag: str | None = None,
               content_types: list[str] | None = None, browsers: Browsers | None = None,
               **route_kwargs) -> Callable:
    """Route, validate, authorize and document in one decorator (see the module docstring).

    ``browsers`` makes a public route answer browsers too (pages, form posts, its own CORS
    rule and preflight); without it a route answers JSON with the API's CORS rule.
    """
    kinds = tuple(content_types or ["application/json"])
    success = min(code for code in responses if code < 300)

    def decorate(view: Callable) -> Callable:
        for method in methods:
            REGISTRY[(path, method.upper())] = RouteDoc(
                path, method.upper(), summary, tag or path.strip("/").split("/")[0], scope, body, query, responses,
                kinds, _operation_id(method, path) if len(methods) > 1 else view.__name__, browsers is not None)

        @functools.wraps(view)
        def handler(**params):
            request = bp.current_request
            caller = Call(request=request, params=params)
            with AuditStore.watch() as recorded:
                try:
                    response = _answer(view, caller, success)
                except Exception:
                    # Chalice logs the trace and answers 500; the attempt is recorded first.
                    _audit(caller, recorded, 500)
                    raise
            _audit(caller, recorded, response.status_code, response)
            return response

        def _audit(caller: Call, recorded: list, status: int, response: Response | None = None) -> None:
            # One entry per write attempt on a route with a key: the service's, or this one.
            if scope is None or caller.request.method == "GET" or (recorded and status < 400):
                return
            from chalicelib.api.auth import audit_attempt
            from chalicelib.api.common import table

            error, fields = _error_of(response)
            try:
                target = path.format(**caller.params) if caller.params else path
                audit_attempt(table(), caller.key, caller.request.method, path, target, status, error, fields)
            except Exception:
                log.exception("recording the attempt %s %s in the audit log failed", caller.request.method, path)

        def _call(caller: Call) -> Call:
            request = caller.request
            if browsers is not None:
                browsers.refuse(request)
            if scope is not None:
                from chalicelib.api.auth import identify, permit

                caller.key = identify(request)
                permit(caller.key, scope)
            caller.body = http.parse_body(request, body) if body is not None else None
            caller.query = http.parse_query(request, query)
            caller.if_match = http.if_match_version(request)
            return caller

        def _answer(view: Callable, caller: Call, success: int) -> Response:
            error = None
            try:
                response = _respond(view(_call(caller)), success)
            except Exception as exc:
                error = _as_error(exc, path)
                response = error.response()
            if browsers is not None:
                return browsers.finish(caller.request, response, error)
            return response

        cors = None if browsers is not None else route_kwargs.pop("cors", CORS)
        bp.route(path, methods=methods, content_types=list(kinds), cors=cors, **route_kwargs)(handler)
        if browsers is not None and "POST" in methods:
            preflight = f"{view.__name__}_preflight"
            REGISTRY[(path, "OPTIONS")] = RouteDoc(path, "OPTIONS", "CORS preflight of the status page's form",
                                                   tag or path.strip("/").split("/")[0], None, None, None,
                                                   {204: None}, operation_id=preflight)
            bp.route(path, methods=["OPTIONS"], name=preflight)(
                lambda **params: browsers.preflight(bp.current_request))
        return view

    return decorate


def _as_error(exc: Exception, path: str) -> http.ApiError:
    """The API error a view's exception stands for; anything else is re-raised (a 500, logged)."""
    if isinstance(exc, http.ApiError):
        return exc
    if isinstance(exc, ChaliceViewError):
        return _as_api_error(exc)
    if isinstance(exc, Conflict):
        return http.VersionConflict(str(exc))
    if isinstance(exc, KeyError):
        if type(exc) is KeyError:
            # Services raise NotFound for unknown ids; a bare KeyError may be a bug: keep its trace.
            log.warning("%s answered 404 for a bare KeyError", path, exc_info=True)
        return http.NotFoundError(_key_message(exc))
    if isinstance(exc, ValueError):
        return http.Unprocessable(str(exc))
    raise exc


def _respond(result, success: int) -> Response:
    if isinstance(result, Response):
        return result
    status = success
    if isinstance(result, tuple):
        status, result = result
    if result is None:
        return Response(body="", status_code=204 if status == 200 else status)
    return http.model_response(result, status)


def _error_of(response: Response | None) -> tuple[str | None, tuple[str, ...]]:
    """The error code and field names of an error answer (never its message: it may quote input)."""
    if response is None or response.status_code < 400 or not isinstance(response.body, str):
        return None, ()
    try:
        body = json.loads(response.body)
    except ValueError:
        return None, ()
    if not isinstance(body, dict):
        return None, ()
    fields = tuple(str(f.get("field", ""))[:80] for f in body.get("fields") or () if isinstance(f, dict))
    return str(body.get("error", ""))[:60] or None, fields


def _as_api_error(exc: ChaliceViewError) -> http.ApiError:
    error = http.ApiError(str(exc))
    error.STATUS_CODE = exc.STATUS_CODE
    error.code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__.removesuffix("Error")).lower()
    return error


def _key_message(exc: KeyError) -> str:
    text = str(exc)
    if type(exc) is KeyError:
        return f"no such id: {exc.args[0]!r}" if exc.args else "not found"
    return text


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.strip("/").split("/") if w] or ["root"]
    return method.lower() + "_" + "_".join(re.sub(r"[^a-zA-Z0-9]", "_", w) for w in words)


# -- the document ------------------------------------------------------------------------------

_STANDARD_ERRORS = {
    400: "The body is not JSON, or the If-Match header is malformed",
    401: "Missing, unknown or revoked API key",
    403: "The key's scope does not allow this",
    404: "Unknown id",
    409: "Stale version: someone changed the record since it was read",
    413: "The body is over the size limit",
    415: "Unsupported Content-Type",
    422: "A field is not valid; `fields` names each one and why",
    500: "Something went wrong on the server; the message gives the request id to quote",
}


REF = "#/components/schemas/{name}"


def openapi_document(title: str = "Beacon API", version: str = "1", server_url: str | None = None) -> dict:
    routes = sorted(REGISTRY.values(), key=lambda r: (r.path, r.method))
    wanted: list[Shape] = [Error]
    for route in routes:
        if route.body is not None:
            wanted.append(route.body)
        wanted += [model for model in route.responses.values() if model is not None and not isinstance(model, str)]
    wanted = list(dict.fromkeys(wanted))
    refs, schemas = msgspec.json.schema_components(wanted, ref_template=REF)
    keyed = dict(zip(wanted, refs))
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, keyed)
    for route, code, links in _links(routes, schemas):
        paths[route.path][route.method.lower()]["responses"][str(code)]["links"] = links
    document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Beacon's API: marketers post incidents, notices and maintenance, set component "
                                "statuses and trigger playbooks; admins manage keys and read the audit log. "
                                "Authenticate with `Authorization: Bearer <key>`."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key: `beacon keys create`"}},
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _operation(route: RouteDoc, keyed: dict) -> dict:
    operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary, "tags": [route.tag]}
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1,
                                                                          "pattern": http.PATH_PARAMETER}}
                  for name in re.findall(r"\{(\w+)\}", route.path)]
    if route.query is not None:
        schema = msgspec.json.schema_components([route.query], ref_template=REF)[1][route.query.__name__]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            described = [p["description"] for p in (prop, *prop.get("anyOf", ())) if "description" in p]
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                               **({"description": described[0]} if described else {})})
    if route.method in ("PUT", "PATCH", "POST", "DELETE") and route.scope is not None:
        parameters.append({"name": "If-Match", "in": "header", "required": False,
                           "description": "The version (ETag) you read; a stale one gets 409",
                           "schema": {"type": "string", "pattern": '^"[0-9]{1,9}"$'}})
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        ref = keyed[route.body]
        operation["requestBody"] = {"required": True,
                                    "content": {kind: {"schema": ref} for kind in route.content_types}}
    responses: dict[str, Any] = {}
    for code, model in sorted(route.responses.items()):
        entry: dict[str, Any] = {"description": _describe_status(code)}
        if isinstance(model, str):
            # A media type instead of a model: a page or a file, e.g. {200: "text/html"}.
            entry["content"] = {model: {"schema": {"type": "string"}}}
        elif model is not None:
            entry["content"] = {"application/json": {"schema": keyed[model]}}
        responses[str(code)] = entry
    error_ref = {"application/json": {"schema": keyed[Error]}}
    codes = [400, 404, 409, 413, 415, 422, 500]
    if route.scope is not None:
        codes += [401, 403]
        operation["security"] = [{"bearer": []}]
    else:
        operation["security"] = []
    for code in codes:
        responses.setdefault(str(code), {"description": _STANDARD_ERRORS[code], "content": error_ref})
    if route.pages:
        # A browser (a form post, a link, Accept: text/html) gets every answer, errors too, as a page.
        for entry in responses.values():
            if "content" in entry:
                entry["content"] = {**entry["content"], "text/html": {"schema": {"type": "string"}}}
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _links(routes: list[RouteDoc], schemas: dict) -> list[tuple[RouteDoc, int, dict]]:
    """Each collection's create route (201 with an ``id``) and its links to the routes under ``<path>/{id}``."""
    found = []
    for route in routes:
        model = route.responses.get(201)
        if "{" in route.path or model is None or isinstance(model, str) \
                or "id" not in schemas.get(model.__name__, {}).get("properties", {}):
            continue
        links = {}
        for other in routes:
            match = re.fullmatch(re.escape(route.path) + r"/\{(\w+)\}(/[^{}]*)?", other.path)
            if match is not None:
                links[other.operation_id] = {"operationId": other.operation_id,
                                             "parameters": {match.group(1): "$response.body#/id"}}
        if links:
            found.append((route, 201, dict(sorted(links.items()))))
    return found


def _describe_status(code: int) -> str:
    return {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}.get(code, _STANDARD_ERRORS.get(code, ""))
