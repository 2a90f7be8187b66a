"""One error body for every failure: `{"error": code, "message": text, "detail": [...]}`.

`detail` is always a list (empty when there is nothing more to say); for a bad request it
holds one `{"parameter", "source", "message"}` object per bad parameter. No handler ever
returns a stack trace: unexpected exceptions are logged here and answered with a 500 body.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from readside_core.views import json_encoder

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    404: "not_found",
    412: "not_reached",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    429: "too_many_requests",
    431: "header_fields_too_large",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """A failure with a status code and a message the caller can act on."""

    def __init__(self, status_code: int, message: str, detail: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.detail = detail or []
        self.headers: dict[str, str] = {}

    def with_headers(self, headers: dict[str, str]) -> ApiError:
        self.headers.update(headers)
        return self


def bad_request(problems: list[dict[str, Any]]) -> ApiError:
    """A 400 naming every bad parameter (problems as produced by `params.problem`)."""
    message = "; ".join(p["message"] for p in problems)
    return ApiError(400, message, problems)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def error_body(status_code: int, message: str, detail: list[dict[str, Any]] | None = None) -> bytes:
    code = _CODES.get(status_code, "error")
    return json_encoder.encode({"error": code, "message": message, "detail": detail or []})


def error_response(
    status_code: int, message: str, detail: list[dict[str, Any]] | None = None
) -> Response[bytes]:
    return Response(
        error_body(status_code, message, detail),
        status_code=status_code,
        media_type="application/json",
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    response = error_response(exc.status_code, exc.message, exc.detail)
    response.headers.update(exc.headers)
    return response


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    # Litestar's own checks (should our parsing miss something): keep the shape.
    extra = exc.extra if isinstance(exc.extra, list) else []
    detail = [
        {
            "parameter": e.get("key"),
            "source": e.get("source"),
            "message": str(e.get("message")),
        }
        for e in extra
        if isinstance(e, dict)
    ]
    return error_response(400, "bad request: " + str(exc.detail), detail)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 404:
        message = "no such route; see /schema for the API"
    elif status == 405:
        message = "method not allowed; this API only answers GET (see /schema)"
    else:
        message = str(exc.detail)
    response = error_response(status, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "the read model database is unavailable; retry shortly")


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error during %s %s", request.method, request.url.path)
    return error_response(500, "internal error; it has been logged")


EXCEPTION_HANDLERS: Any = {
    ApiError: _api_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    OperationalError: _database_error,
    InterfaceError: _database_error,
    PoolTimeoutError: _database_error,
    OSError: _database_error,
    Exception: _unexpected_error,
}
