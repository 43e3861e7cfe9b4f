"""RFC 9457 problem details: the one error shape of the whole API.

Domain errors subclass :class:`Problem`; the docstring is the (Chinese) title, ``slug`` the stable
``type``. Framework errors (bad JSON, unknown route, wrong method, validation) and anything
unexpected are converted here too, so no response ever carries a stack trace, SQL or personal data.
"""

from __future__ import annotations

import logging
import traceback
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

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
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("zhangban.errors")

PROBLEM_JSON = "application/problem+json"

# How long a client is asked to wait when a server it needs is unavailable (``Retry-After`` of 503s).
RETRY_AFTER_OUTAGE = 5
# ... and when its transaction lost to a concurrent one (a deadlock, a serialization failure, a lock
# it could not get in time): the conflict is over at once, the same request very likely succeeds.
RETRY_AFTER_CONFLICT = 1


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ProblemDocument(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The body of every error response (RFC 9457).

    ``type`` is a stable slug (each response lists the ones it can carry), ``title`` its Chinese
    title, ``errors`` the fields a 422 ``validation_failed`` names. Some types add members of their
    own (``retry_after``, ``tries_left``, ``missing``, ``reason``...).
    """

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """请求未能完成"""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad_request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        # ``context`` holds only values that are safe to show the client; it becomes extension members.
        super().__init__(detail or self.__doc__)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.context = context


class BadRequest(Problem):
    """请求格式错误"""

    status, slug = 400, "malformed_request"


class ValidationFailed(Problem):
    """请求参数不符合要求"""

    status, slug = 422, "validation_failed"


class NotFound(Problem):
    """资源不存在"""

    status, slug = 404, "not_found"


class Unauthorized(Problem):
    """未登录或登录已失效"""

    status, slug = 401, "unauthorized"


class Forbidden(Problem):
    """无权访问"""

    status, slug = 403, "forbidden"


class Conflict(Problem):
    """状态冲突"""

    status, slug = 409, "conflict"


class RateLimited(Problem):
    """请求过于频繁，请稍后再试"""

    status, slug = 429, "rate_limited"


class ServiceUnavailable(Problem):
    """服务暂时不可用，请稍后再试"""

    status, slug = 503, "service_unavailable"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(RETRY_AFTER_OUTAGE))


def problem_response(
    status: int,
    slug: str,
    title: str,
    *,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    body = msgspec.to_builtins(ProblemDocument(type=slug, title=title, status=status, detail=detail, errors=errors))
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def success(status: int, model: type, description: str) -> dict[int, ResponseSpec]:
    """An OpenAPI success response for handlers that build their ``Response`` themselves."""
    return {status: ResponseSpec(data_container=model, description=description, generate_examples=False)}


@dataclass
class ProblemSpec(ResponseSpec):
    """An OpenAPI error response that knows its problem classes (``api.openapi`` documents them)."""

    problems: tuple[type[Problem], ...] = ()


def problem_responses(*problems: type[Problem]) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` naming every problem ``type`` a route can answer with, by status.

    Name only what the route itself decides: malformed and invalid input (400/422), a missing or
    bad token (401), ``Idempotency-Key`` problems and 503 ``service_unavailable`` are added to every
    route that can give them (``api.openapi``).
    """
    by_status: dict[int, list[type[Problem]]] = defaultdict(list)
    for p in problems:
        if p not in by_status[p.status]:
            by_status[p.status].append(p)
    return {
        status: ProblemSpec(
            data_container=ProblemDocument,
            media_type=PROBLEM_JSON,
            generate_examples=False,
            description=describe(group),
            problems=tuple(group),
        )
        for status, group in sorted(by_status.items())
    }


def describe(problems: Any) -> str:
    """The description of an error response: its problem types and their titles."""
    return "Problem types: " + "; ".join(f"`{p.slug}` ({p.__doc__})" for p in problems)


def handle_problem(request: Request, exc: Problem) -> Response[bytes]:
    return problem_response(
        exc.status,
        exc.slug,
        exc.__doc__ or exc.slug,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=msgspec.to_builtins(exc.context) if exc.context else None,
    )


# Framework exceptions, by class: (slug, title).
_HTTP = {
    NotFoundException: ("not_found", NotFound.__doc__),
    MethodNotAllowedException: ("method_not_allowed", "不支持该请求方法"),
    NotAuthorizedException: ("unauthorized", Unauthorized.__doc__),
    PermissionDeniedException: ("forbidden", Forbidden.__doc__),
    TooManyRequestsException: ("rate_limited", RateLimited.__doc__),
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
        if not errors or any(e.field == "body" and ("malformed" in e.message.lower() or e.message == "'data'")
                             for e in errors):
            detail = "the request has no body" if any(e.message == "'data'" for e in errors) else _safe_detail(exc)
            return problem_response(400, BadRequest.slug, BadRequest.__doc__, detail=detail, headers=headers)
        return problem_response(422, ValidationFailed.slug, ValidationFailed.__doc__, errors=errors, headers=headers)
    for cls, (slug, title) in _HTTP.items():
        if isinstance(exc, cls):
            return problem_response(exc.status_code, slug, title or slug, headers=headers)
    if exc.status_code == 400:
        # Litestar's own 400s are bodies or headers that did not decode ("JSON is malformed ...").
        return problem_response(400, BadRequest.slug, BadRequest.__doc__, detail=_safe_detail(exc), headers=headers)
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    return problem_response(exc.status_code, "http_error", "请求未能完成", detail=_safe_detail(exc), headers=headers)


def handle_serialization(request: Request, exc: SerializationException) -> Response[bytes]:
    return problem_response(400, BadRequest.slug, BadRequest.__doc__, detail="the request body is not valid JSON")


def handle_unstorable_text(request: Request, exc: Exception) -> Response[bytes]:
    # PostgreSQL refuses text it cannot hold (a NUL character) wherever a value reaches it, in a
    # query's parameters as in a row; the transaction rolls back, so nothing was written.
    return problem_response(400, BadRequest.slug, BadRequest.__doc__,
                            detail="the request holds text that cannot be stored (a NUL character)")


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
        return handle_problem(request, ServiceUnavailable(
            "a concurrent change conflicted with this request; nothing was written, try again",
            headers={"Retry-After": str(RETRY_AFTER_CONFLICT)}))
    if dependency := unavailable_dependency(exc):
        # An outage, not a bug: one line, no trace (every request says the same while it lasts).
        # 503 with Retry-After: the same request may succeed once the server is back.
        log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc)
        name = "the database" if dependency == "database" else "Redis"
        return handle_problem(request, ServiceUnavailable(f"{name} is unavailable; try again shortly"))
    # The log keeps the trace (with the request id); the client gets nothing of it.
    log.exception("unhandled error", exc_info=exc)
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

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_JSON",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "NotFound",
    "Problem",
    "ProblemDocument",
    "ProblemSpec",
    "RateLimited",
    "ServiceUnavailable",
    "transient_conflict",
    "unavailable_dependency",
    "Unauthorized",
    "ValidationFailed",
    "problem_response",
    "problem_responses",
]
