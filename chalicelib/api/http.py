"""HTTP for the API: one JSON error shape, request parsing, responses with versions.

Every error a client can cause answers with a status and ::

    {"error": "validation_failed", "message": "name: String should have at least 1 character",
     "fields": [{"field": "name", "problem": "String should have at least 1 character"}]}

``fields`` is present when the request had bad fields, one entry per field and reason.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs

from chalice import Response
from chalice.app import ChaliceViewError
from pydantic import BaseModel, ValidationError

log = logging.getLogger("beacon.api")

MAX_BODY_BYTES = 64 * 1024


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


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":"), default=str), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def model_response(model: BaseModel | list | dict, status: int = 200, headers: dict[str, str] | None = None
                   ) -> Response:
    headers = dict(headers or {})
    version = getattr(model, "version", None)
    if isinstance(version, int) and "ETag" not in headers:
        headers["ETag"] = f'"{version}"'
    if isinstance(model, BaseModel):
        return Response(body=model.model_dump_json(), status_code=status,
                        headers={"Content-Type": "application/json", **headers})
    return json_response(model, status, headers)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    fields = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(body)"
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problem = "unknown field; remove it or check its spelling"
        elif error["type"] == "missing":
            problem = "required field is missing"
        elif error["type"] == "timezone_aware":
            problem = "give a time zone, e.g. 2026-05-01T12:00:00Z"
        elif error["type"] in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
            problem = f"{problem}; use ISO-8601 with a zone, e.g. 2026-05-01T12:00:00Z"
        elif error["type"] == "enum" and "expected" in error.get("ctx", {}):
            problem = f"must be one of {error['ctx']['expected']}"
        fields.append({"field": where, "problem": problem})
    return fields


def invalid(exc: ValidationError, what: str = "request body") -> Unprocessable:
    fields = field_errors(exc)
    summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    return Unprocessable(f"the {what} is not valid: {summary}", fields)


def parse_body(request, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            return model.model_validate(_form_data(raw, model), strict=False)
        if not raw.strip():
            raise BadRequest("the request body is empty; send a JSON object")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid(exc) from None


def _form_data(raw: bytes, model: type[BaseModel]) -> dict[str, Any]:
    try:
        pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    data: dict[str, Any] = {}
    for key, values in pairs.items():
        annotation = str(model.model_fields[key].annotation) if key in model.model_fields else ""
        data[key] = values if ("list" in annotation or "tuple" in annotation) else values[-1]
    return data


def parse_query(request, model: type[BaseModel] | None) -> BaseModel | None:
    params = dict(request.query_params or {})
    if model is None:
        if params:
            raise Unprocessable(f"unknown query parameter {', '.join(sorted(params))}; this route takes none",
                                [{"field": k, "problem": "unknown query parameter"} for k in sorted(params)])
        return None
    try:
        return model.model_validate(params, strict=False)
    except ValidationError as exc:
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
