"""Errors as HTTP answers, mapped once: every error is ``{"error": {"code", "message", "field"?}}`` with a
stable code. xingqu's own errors map by their kind; a request the schema refuses is 422; a store or
Redis that does not answer is 503; anything else is a bug, 500, and logged."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from xingqu.errors import (
    HistoryChangedError,
    MissingDependencyError,
    RateLimitedError,
    StoreError,
    ValidationFailed,
    XingquError,
)

log = logging.getLogger("xingqu.api")

#: HTTP status of each error kind of ``xingqu.errors``.
STATUS: dict[str, int] = {
    "bad_input": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}

#: Codes of HTTP errors raised by the framework itself (unknown path, wrong method, body too large).
HTTP_CODES: dict[int, str] = {
    400: "bad_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON of every error answer."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return {"error": body}


def answer(exc: XingquError) -> JSONResponse:
    """The HTTP answer to one of xingqu's errors."""
    headers: dict[str, str] = {}
    if isinstance(exc, ValidationFailed):
        items = [
            {
                "kind": e.source.rsplit(".", 1)[-1],
                "index": e.row,
                "field": e.field,
                "reason": e.reason,
                "value": e.value,
            }
            for e in exc.errors
        ]
        first = exc.errors[0].field if exc.errors else None
        bad = len({(i["kind"], i["index"]) for i in items})
        message = f"{bad} invalid item(s), {exc.total} error(s); nothing was written"
        return JSONResponse(error_body("invalid_records", message, first, items=items), status_code=422)
    if isinstance(exc, StoreError | MissingDependencyError) and not isinstance(exc, HistoryChangedError):
        # a client never chooses the store: its state (no schema, damaged, locked) is the server's
        status, code = 503, "store_unavailable"
    else:
        status, code = STATUS.get(exc.kind, 500), exc.kind
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if status == 503:
        headers.setdefault("Retry-After", "1")
    if status >= 500:
        log.warning("%s: %s", code, exc)
    return JSONResponse(error_body(code, str(exc)), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(x) for x in loc if x not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def unanswered_errors() -> tuple[type[BaseException], ...]:
    """Errors of a database or Redis server that does not answer, raised past the store's and the
    online state's own mapping (a connection dropped mid-query, a pool timing out)."""
    from xingqu.online.redis import connection_errors as redis_errors
    from xingqu.store import connection_errors as store_errors

    return store_errors() + redis_errors()


def install(app: FastAPI) -> None:
    """Register the one mapping of errors to answers on ``app``."""

    @app.exception_handler(XingquError)
    async def _xingqu(_request: Request, exc: XingquError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [{"field": _field(e.get("loc", ())), "reason": e.get("msg", "")} for e in errors]
        first = details[0] if details else {"field": "body", "reason": "invalid request"}
        message = f"{first['field']}: {first['reason']}"
        if len(details) > 1:
            message += f" (and {len(details) - 1} more)"
        body = error_body("invalid_request", message, first["field"], items=details)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    async def _unanswered(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("unavailable: %s", exc)
        message = f"a server xingqu needs does not answer ({type(exc).__name__}); try again"
        return JSONResponse(error_body("unavailable", message), status_code=503, headers={"Retry-After": "1"})

    for kind in unanswered_errors():
        app.add_exception_handler(kind, _unanswered)

    @app.exception_handler(ResponseValidationError)
    async def _unexpected(_request: Request, exc: ResponseValidationError) -> JSONResponse:
        log.error("internal error: an answer does not match its schema: %s", exc)
        return JSONResponse(
            error_body("internal", "internal error: this is a bug in xingqu"), status_code=500
        )

    @app.exception_handler(Exception)
    async def _other(_request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc)
        return JSONResponse(
            error_body("internal", "internal error: this is a bug in xingqu"), status_code=500
        )
