"""Every error as an RFC 9457 problem document with a stable ``code``, in one place."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)

from agents_api.bodies import MAX_ERRORS, request_body_errors
from agents_api.request_ids import current_request_id
from agents_core.errors import (
    ConcurrentChange,
    Conflict,
    ConstraintViolation,
    DatabaseUnavailable,
    DomainError,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from agents_core.schemas import FieldError, split_field_message

__all__ = [
    "MAX_DETAIL",
    "PROBLEM_JSON",
    "CodedHTTPException",
    "exception_handlers",
    "problem_response",
]

logger = logging.getLogger("agents_api.errors")

PROBLEM_JSON = "application/problem+json"

MAX_DETAIL = 1000
"""Most characters of ``detail``; ``errors`` holds at most ``bodies.MAX_ERRORS`` entries."""
_MAX_FIELD = 200
_MAX_MESSAGE = 300

_STATUS_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "database_unavailable",
}


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    code: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        problem["detail"] = _cut(detail, MAX_DETAIL)
    problem["code"] = code or _STATUS_CODES.get(status, "error")
    if errors:
        # Bounded whatever the input: an answer never grows with what the client sent.
        problem["errors"] = [
            FieldError(field=_cut(e.field, _MAX_FIELD), message=_cut(e.message, _MAX_MESSAGE))
            for e in errors[:MAX_ERRORS]
        ]
    request_id = current_request_id()
    if request_id is not None:
        problem["request_id"] = request_id
    return Response(
        content=msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listed(errors: list[FieldError]) -> str:
    """``detail`` for a list of field errors: the first ones, then how many more."""
    shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    if len(errors) > 5:
        more = f"{len(errors) - 5}" if len(errors) <= MAX_ERRORS else f"over {MAX_ERRORS - 5}"
        shown += f" (and {more} more)"
    return shown


class CodedHTTPException(HTTPException):
    """An HTTP error with its own stable ``code`` (e.g. ``too_many_attempts`` for a 429)."""

    code: str | None = None

    def __init__(self, detail: str, *, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=detail, headers=headers)
        self.code = code


def _domain_status(exc: DomainError) -> int:
    if isinstance(exc, InvalidInput):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, VersionMismatch):
        return 412
    if isinstance(exc, DatabaseUnavailable):
        return 503
    return 400


# How long a client should wait before sending the same request again.
_RETRY_AFTER = {DatabaseUnavailable: "1", ConcurrentChange: "0"}


def _on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if isinstance(exc, ConstraintViolation):
        # A constraint no repository expected: a bug, not the client's doing.
        return _on_unexpected(request, exc)
    if isinstance(exc, DatabaseUnavailable):
        logger.warning("database unavailable on %s %s", request.method, request.url.path)
    retry_after = _RETRY_AFTER.get(type(exc))
    return problem_response(
        _domain_status(exc),
        detail=exc.detail,
        code=exc.code,
        errors=exc.errors,
        headers=None if retry_after is None else {"Retry-After": retry_after},
    )


_NAMED_FIELD = re.compile(r"(unknown|missing required) field `([^`]*)`")


def _validation_errors(extra: Any) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = str(item.get("key", "")) or "body"
        field, text = split_field_message(message)
        if field is not None:
            # A message from a body type's own checks names the field; for nested items the
            # key already holds the path to the item (e.g. ``agents[3]``).
            path = field if key in {"data", "body"} else f"{key}.{field}"
            errors.append(FieldError(field=path, message=text))
        elif named := _NAMED_FIELD.search(message):
            prefix = "" if key in {"data", "body"} else f"{key}."
            text = "unknown field" if named.group(1) == "unknown" else "this field is required"
            errors.append(FieldError(field=prefix + named.group(2), message=text))
        else:
            errors.append(FieldError(field="body" if key == "data" else key, message=message))
    return errors


def _from_body(extra: Any) -> bool:
    return isinstance(extra, list) and any(
        isinstance(item, dict) and item.get("source") == "body" for item in extra
    )


def _on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors = (_from_body(exc.extra) and request_body_errors(request)) or _validation_errors(
        exc.extra
    )
    if errors:
        detail = _listed(errors)
    elif exc.detail and "Validation failed" not in exc.detail:
        detail = exc.detail
    else:
        detail = "The request is not valid"
    return problem_response(400, detail=detail, code="validation_error", errors=errors or None)


def _on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException) or status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    detail = exc.detail if status < 500 else HTTPStatus(status).phrase
    code = exc.code if isinstance(exc, CodedHTTPException) else None
    return problem_response(status, detail=detail, code=code, headers=headers or None)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, detail="An unexpected error occurred", code="internal_error")


exception_handlers: dict[type[Exception] | int, Any] = {
    DomainError: _on_domain_error,
    ValidationException: _on_validation,
    HTTPException: _on_http,
    Exception: _on_unexpected,
}
