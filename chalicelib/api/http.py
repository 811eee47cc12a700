"""HTTP for the API: one JSON error shape, request parsing, responses with versions.

Every error a client can cause answers with a status and ::

    {"error": "validation_failed", "message": "the request body is not valid: name: must not be empty; write a text",
     "fields": [{"field": "name", "problem": "must not be empty; write a text"}]}

``fields`` is present when the request had bad fields, one entry per field and reason.

Every request passes ``edge`` (app.py's middleware), so every answer keeps that shape,
not only the views': path parameters that are not ids and query values outside printable
ASCII are refused before any view runs; Chalice's own answers (no such method 405,
unsupported Content-Type 415) are rewritten into it; an unexpected exception is logged
with its trace and answers 500 ``internal_error`` with the request id and nothing else.
Bodies are parsed here only: JSON nested deeper than ``MAX_JSON_DEPTH`` levels, text in
an unknown charset or a non-UTF-8 form is a 400 that says what to send instead.
"""
from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec
from chalice import Response
from chalice.app import ChaliceViewError

from chalicelib import schema
from chalicelib.model import isoformat

log = logging.getLogger("beacon.api")

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 200
# Every path parameter is an id or a token: the OpenAPI document declares this pattern.
PATH_PARAMETER = r"^[A-Za-z0-9_-]+$"
_PATH_PARAMETER = re.compile(PATH_PARAMETER)
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


class ApiError(ChaliceViewError):
    """An error the client caused; ``code`` is a stable machine-readable word."""

    STATUS_CODE = 400
    code = "bad_request"

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return json_response(body, self.STATUS_CODE, self.headers)


class BadRequest(ApiError):
    STATUS_CODE, code = 400, "bad_request"


class Unauthorized(ApiError):
    STATUS_CODE, code = 401, "unauthorized"

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="beacon"'})


class Forbidden(ApiError):
    STATUS_CODE, code = 403, "forbidden"


class NotFoundError(ApiError):
    STATUS_CODE, code = 404, "not_found"


class VersionConflict(ApiError):
    STATUS_CODE, code = 409, "version_conflict"


class PayloadTooLarge(ApiError):
    STATUS_CODE, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    STATUS_CODE, code = 415, "unsupported_media_type"


class Unprocessable(ApiError):
    STATUS_CODE, code = 422, "validation_failed"


class InternalError(ApiError):
    STATUS_CODE, code = 500, "internal_error"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":"), default=_json_default), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _json_default(value: Any) -> Any:
    # Every time in an answer is in Statuspage's form: milliseconds and a zone.
    return isoformat(value) if isinstance(value, datetime) else str(value)


def model_response(model: msgspec.Struct | list | dict, status: int = 200, headers: dict[str, str] | None = None
                   ) -> Response:
    headers = dict(headers or {})
    version = getattr(model, "version", None)
    if isinstance(version, int) and "ETag" not in headers:
        headers["ETag"] = f'"{version}"'
    # Enums become their values and structs mappings; datetimes are left for ``_json_default``.
    return json_response(msgspec.to_builtins(model, builtin_types=(datetime,)), status, headers)


_FIELD_WORDS = {schema.UNKNOWN_KEY: "unknown field; remove it or check its spelling",
                schema.MISSING_KEY: "required field is missing"}


def field_errors(exc: schema.Invalid) -> list[dict[str, str]]:
    """One ``{"field", "problem"}`` per mistake, the field as a dotted path (``components.facebook``)."""
    return [{"field": ".".join(map(str, problem.loc)) or "(body)",
             "problem": _FIELD_WORDS.get(problem.message, problem.message)} for problem in exc.problems]


def invalid(exc: schema.Invalid, what: str = "request body") -> Unprocessable:
    fields = field_errors(exc)
    summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    return Unprocessable(f"the {what} is not valid: {summary}", fields)


def parse_body(request, model: type[msgspec.Struct]) -> msgspec.Struct:
    """The body as ``model``: JSON read strictly, a form's texts converted as the fields' types."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    header = request.headers.get("content-type") or "application/json"
    try:
        if _media_type(header) in FORM_TYPES:
            return schema.read(model, _for_model(form_fields(raw, header), model))
        return schema.read(model, load_json_object(raw), strict=True)
    except schema.Invalid as exc:
        raise invalid(exc) from None


def load_json(raw: bytes | str) -> Any:
    """The JSON value of a request body; 400 with where and why when it is not JSON.

    Strict JSON only: no NaN or Infinity, UTF-8, at most ``MAX_JSON_DEPTH`` levels of nesting.
    """
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object")
    too_deep = BadRequest(f"the request body is not valid JSON: it is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        raise too_deep from None
    except UnicodeDecodeError:
        raise BadRequest("the request body is not valid JSON: it is not UTF-8; send JSON as UTF-8") from None
    except msgspec.DecodeError as exc:
        reason = str(exc).removeprefix("JSON is malformed: ")
        raise BadRequest(f"the request body is not valid JSON: {reason}") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and mappings in ``value`` nest more than ``limit`` levels (walked without recursion)."""
    level, depth = [value], 0
    while level := [node for node in level if isinstance(node, (list, dict))]:
        depth += 1
        if depth > limit:
            return True
        level = [item for node in level for item in (node.values() if isinstance(node, dict) else node)]
    return False


def load_json_object(raw: bytes | str) -> dict[str, Any]:
    data = load_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_fields(raw: bytes, content_type: str) -> dict[str, list[str]]:
    """The fields of a form body (URL-encoded or multipart), each name with its values in order.

    ``content_type`` is the whole header, with its ``charset`` or ``boundary``. Text in a
    charset Python does not know, or not in the charset it claims, is a 400 naming the field.
    """
    media_type, params = _media_type(content_type), _header_params(content_type)
    if media_type == "multipart/form-data":
        return _multipart_fields(raw, content_type)
    charset = _charset(params.get("charset"), "the form")
    try:
        text = raw.decode(charset)
    except UnicodeDecodeError:
        raise BadRequest(f"the form is not valid {charset}; send it as UTF-8") from None
    try:
        return parse_qs(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("a percent-encoded form value is not UTF-8; encode values as UTF-8") from None


def _multipart_fields(raw: bytes, content_type: str) -> dict[str, list[str]]:
    from email.parser import BytesParser
    from email.policy import HTTP

    if not _header_params(content_type).get("boundary"):
        raise BadRequest("multipart/form-data needs a boundary, e.g. Content-Type: multipart/form-data; "
                         "boundary=x")
    header = content_type.encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + header + b"\r\n\r\n" + raw)
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        value = ""
        if part.get_content_maintype() == "text":
            charset = _charset(part.get_content_charset(), f"form field {name!r}")
            payload = part.get_payload(decode=True) or b""
            try:
                value = payload.decode(charset)
            except UnicodeDecodeError:
                raise BadRequest(f"form field {name!r} is not valid {charset}; send it as UTF-8") from None
        fields.setdefault(name, []).append(value)
    return fields


def _charset(name: str | None, what: str) -> str:
    if not name:
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise BadRequest(f"{what} is in charset {name!r}, which is not known; send it as UTF-8 "
                         "(charset=utf-8)") from None


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _header_params(content_type: str) -> dict[str, str]:
    params = {}
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return params


def _for_model(fields: dict[str, list[str]], model: type[msgspec.Struct]) -> dict[str, Any]:
    """A form's fields as ``model`` reads them: every value of a list field, the last of any other."""
    lists = {field.encode_name for field in msgspec.structs.fields(model) if schema.takes_items(field.type)}
    return {key: values if key in lists else values[-1] for key, values in fields.items()}


def parse_query(request, model: type[msgspec.Struct] | None) -> msgspec.Struct | None:
    params = dict(request.query_params or {})
    if model is None:
        if params:
            raise Unprocessable(f"unknown query parameter {', '.join(sorted(params))}; this route takes none",
                                [{"field": k, "problem": "unknown query parameter"} for k in sorted(params)])
        return None
    try:
        return schema.read(model, params)
    except schema.Invalid as exc:
        raise invalid(exc, "query") from None


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def if_match_version(request) -> int | None:
    """The version the client read, from ``If-Match: "3"`` (None when absent)."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    match = _ETAG.match(header)
    if not match:
        raise BadRequest(f"If-Match {header!r} is not a version this API returned; send the ETag, e.g. If-Match: \"3\"")
    return int(match.group(1))


def source_ip(request) -> str:
    """The caller's address as API Gateway saw it; a client's X-Forwarded-For is not trusted."""
    return ((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown"


# -- the edge: every request and every answer -------------------------------------------------
def edge(request, get_response: Callable[[Any], Response]) -> Response:
    """Refuse what no route can take, then answer every outcome in the JSON error shape."""
    try:
        check_parameters(request)
    except ApiError as exc:
        return exc.response()
    try:
        response = get_response(request)
    except Exception:
        log.exception("unexpected error answering %s %s", getattr(request, "method", "?"),
                      getattr(request, "path", "?"))
        return internal_error(request).response()
    return in_error_shape(response, request)


def check_parameters(request) -> None:
    """Path parameters are ids or tokens; query values are printable ASCII (ids, tokens, cursors)."""
    if request is None:
        return
    for name, value in (request.uri_params or {}).items():
        if not _PATH_PARAMETER.match(value or ""):
            raise NotFoundError(f"{name} {value[:80]!r} is not an id: ids and tokens are letters, digits, '-' "
                                "and '_'; copy it again from the answer or message that gave it")
    for name, value in (request.query_params or {}).items():
        if not _PRINTABLE_ASCII.match(name) or not _PRINTABLE_ASCII.match(value):
            raise BadRequest(f"query parameter {name[:80]!r} has characters outside printable ASCII; ids, tokens "
                             "and cursors are ASCII: copy the link again",
                             [{"field": name[:80], "problem": "characters outside printable ASCII"}])


_CHALICE_ERRORS = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
}


def in_error_shape(response: Response, request=None) -> Response:
    """Chalice's own error answers (``{"Code", "Message"}``) in this API's shape."""
    body = response.body
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"}):
        return response
    if response.status_code >= 500:
        # Chalice caught an exception and logged its trace; what it says (in debug, the trace) stays inside.
        return internal_error(request, response.headers).response()
    code = _CHALICE_ERRORS.get(body["Code"]) or re.sub(r"(?<!^)(?=[A-Z])", "_", body["Code"]).lower()
    message = body["Message"]
    path = getattr(request, "path", "this route")
    if response.status_code == 405:
        allowed = response.headers.get("Allow", "")
        message = f"{getattr(request, 'method', 'this method')} is not allowed on {path}; use {allowed}"
    elif response.status_code == 415:
        sent = (request.headers.get("content-type") if request is not None else None) or "(none)"
        message = f"Content-Type {sent!r} is not accepted by {path}; send application/json"
    error = ApiError(message, headers={k: v for k, v in response.headers.items() if k.lower() != "content-type"})
    error.STATUS_CODE, error.code = response.status_code, code
    return error.response()


def internal_error(request=None, headers: dict | None = None) -> InternalError:
    request_id = ((getattr(request, "context", None) or {}).get("requestId")) or "unknown"
    headers = {k: v for k, v in (headers or {}).items() if k.lower().startswith("access-control-")}
    return InternalError(f"something went wrong on our side and it was logged with request id {request_id}; "
                         "try again, and quote the id if it keeps happening", headers=headers)

