"""The exception handlers: every error, ours or the framework's, answered as one RFC 9457 problem.

The shape (``Problem`` and its subclasses, ``ProblemDocument``) is the kernel's, ``api/kernel/problems.py``;
here framework errors (bad JSON, unknown route, wrong method, validation) and anything unexpected are
converted to it, so no response ever carries a stack trace, SQL or personal data.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.kernel.problems import (
    RETRY_AFTER_CONFLICT,
    BadRequest,
    FieldError,
    Forbidden,
    NotFound,
    Problem,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    problem_response,
)

log = logging.getLogger("zhangban.errors")


def _title(problem: Problem | type[Problem]) -> str:
    """A problem's title: its class's docstring (every problem class has one)."""
    return problem.__doc__ or problem.slug


def handle_problem(request: Request, exc: Problem) -> Response[bytes]:
    return problem_response(
        exc.status,
        exc.slug,
        _title(exc),
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=msgspec.to_builtins(exc.context) if exc.context else None,
    )


# Framework exceptions, by class: (slug, title).
_HTTP = {
    NotFoundException: ("not_found", _title(NotFound)),
    MethodNotAllowedException: ("method_not_allowed", "不支持该请求方法"),
    NotAuthorizedException: ("unauthorized", _title(Unauthorized)),
    PermissionDeniedException: ("forbidden", _title(Forbidden)),
    TooManyRequestsException: ("rate_limited", _title(RateLimited)),
}


def _field_errors(extra: Any) -> list[FieldError]:
    out = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            # Litestar names a whole-body failure "data" (the handler's parameter); clients know it as the body.
            key = str(item.get("key") or item.get("source") or "body")
            field = "body" if key == "data" else key
            out.append(FieldError(field=field, message=str(item.get("message", "invalid"))))
    return out


def handle_http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        # A body that does not decode at all is 400; one that decodes but breaks a rule is 422. A
        # missing or empty body required by the route is one that does not decode: Litestar reports it
        # as the handler's "data" parameter missing (a KeyError's text).
        if not errors or any(
            e.field == "body" and ("malformed" in e.message.lower() or e.message == "'data'") for e in errors
        ):
            detail = "the request has no body" if any(e.message == "'data'" for e in errors) else _safe_detail(exc)
            return problem_response(400, BadRequest.slug, _title(BadRequest), detail=detail, headers=headers)
        return problem_response(422, ValidationFailed.slug, _title(ValidationFailed), errors=errors, headers=headers)
    for cls, (slug, title) in _HTTP.items():
        if isinstance(exc, cls):
            return problem_response(exc.status_code, slug, title or slug, headers=headers)
    if exc.status_code == 400:
        # Litestar's own 400s are bodies or headers that did not decode ("JSON is malformed ...").
        return problem_response(400, BadRequest.slug, _title(BadRequest), detail=_safe_detail(exc), headers=headers)
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    return problem_response(exc.status_code, "http_error", "请求未能完成", detail=_safe_detail(exc), headers=headers)


def handle_serialization(request: Request, exc: SerializationException) -> Response[bytes]:
    return problem_response(400, BadRequest.slug, _title(BadRequest), detail="the request body is not valid JSON")


def handle_unstorable_text(request: Request, exc: Exception) -> Response[bytes]:
    # PostgreSQL refuses text it cannot hold (a NUL character) wherever a value reaches it, in a
    # query's parameters as in a row; the transaction rolls back, so nothing was written.
    return problem_response(
        400,
        BadRequest.slug,
        _title(BadRequest),
        detail="the request holds text that cannot be stored (a NUL character)",
    )


# asyncpg's errors that say the server is gone, going, or refusing connections (classes 08, 57P0x, 53300).
_DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # The client's protocol out of step with the server: a connection the server ended while it was idle.
    asyncpg.InternalClientError,
)
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def unavailable_dependency(exc: BaseException | None) -> str | None:
    """``"database"`` or ``"redis"`` when ``exc`` (or what it was raised from) says that server is
    unreachable: the drivers' connection errors, the OS errors and timeouts raised inside a driver
    (refused or reset sockets, a pool that could not connect in time), and any error while a
    PostgreSQL connection was being opened (a database that does not accept connections)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _REDIS_DOWN):
            return "redis"
        if isinstance(exc, _DATABASE_DOWN):
            return "database"
        if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
            return "database"  # "connection is closed": the server went away under the pool
        modules = [frame.f_globals.get("__name__", "") for frame, _ in traceback.walk_tb(exc.__traceback__)]
        if any(m == "asyncpg.connect_utils" for m in modules):
            return "database"
        if isinstance(exc, OSError | TimeoutError):
            if any(m.startswith("asyncpg") for m in modules):
                return "database"
            if any(m.startswith("redis") for m in modules):
                return "redis"
        exc = exc.__cause__ or exc.__context__
    return None


# PostgreSQL aborted the transaction because of a concurrent one (40P01, 40001, 55P03): it rolled
# back, nothing was written; the route's transaction is not replayed here (its body has been read
# and its side effects outside PostgreSQL are the route's), so the client is asked to retry.
_TRANSIENT_CONFLICT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, asyncpg.LockNotAvailableError)


def transient_conflict(exc: BaseException | None) -> BaseException | None:
    """The PostgreSQL error in ``exc`` (or what it was raised from) that says a concurrent
    transaction got in the way, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _TRANSIENT_CONFLICT):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    if conflict := transient_conflict(exc):
        # Not a bug either: one line, no trace (the request id comes with it); the first line of
        # PostgreSQL's message only, and no path (a path may carry a one-tap token).
        log.warning("database conflict: %s: %s", type(conflict).__name__, (str(conflict).splitlines() or [""])[0])
        return handle_problem(
            request,
            ServiceUnavailable(
                "a concurrent change conflicted with this request; nothing was written, try again",
                headers={"Retry-After": str(RETRY_AFTER_CONFLICT)},
            ),
        )
    if dependency := unavailable_dependency(exc):
        # An outage, not a bug: one line, no trace (every request says the same while it lasts).
        # 503 with Retry-After: the same request may succeed once the server is back.
        log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc)
        name = "the database" if dependency == "database" else "Redis"
        return handle_problem(request, ServiceUnavailable(f"{name} is unavailable; try again shortly"))
    # The log keeps the trace (with the request id); the client gets nothing of it.
    log.error("unhandled error", exc_info=exc)
    return problem_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "服务器内部错误")


def _safe_detail(exc: HTTPException) -> str | None:
    detail = exc.detail if isinstance(exc.detail, str) else None
    # Litestar's own details name the path and method; they never contain request values.
    return detail


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    SerializationException: handle_serialization,
    asyncpg.CharacterNotInRepertoireError: handle_unstorable_text,
    asyncpg.UntranslatableCharacterError: handle_unstorable_text,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "transient_conflict", "unavailable_dependency"]
