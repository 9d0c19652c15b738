"""Errors as RFC 9457 problem details (`application/problem+json`).

Every problem has a stable `type` (``/problems/<code>``) and `code`, a human `detail`,
and, when one input is at fault, the `field` (dotted path) that was wrong. Validation
errors list every offending field under `errors`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.domain.errors import DomainError
from patron.services.tenants import Unauthenticated

log = logging.getLogger("patron.api")

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ApiProblem(Exception):
    """Raised by API code for problems that are about HTTP, not the domain."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _describe(item: dict[str, Any]) -> dict[str, str]:
    if item.get("type") == "json_invalid":
        # FastAPI puts the byte offset where a field name would be.
        position = item.get("loc", ("body", "?"))[-1]
        return {"field": "body", "message": f"malformed JSON at position {position}"}
    return {"field": _field_path(tuple(item.get("loc", ()))), "message": item.get("msg", "invalid")}


async def _validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [_describe(item) for item in error.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    return problem(
        422,
        "validation-failed",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors=errors,
    )


async def _domain(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return problem(error.status, error.code, error.detail, field=error.field)


async def _api_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiProblem)
    return problem(error.status, error.code, error.detail, field=error.field)


async def _unauthenticated(_: Request, error: Exception) -> JSONResponse:
    return problem(
        401, "unauthenticated", str(error), headers={"WWW-Authenticate": 'Bearer realm="patron"'}
    )


async def _http(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
    return problem(error.status_code, code, str(error.detail))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal-error", "an unexpected error occurred; nothing was written")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
