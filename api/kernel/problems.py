"""RFC 9457 problem details: the one error shape of the whole API.

Domain errors subclass :class:`Problem`; the docstring is the (Chinese) title, ``slug`` the stable
``type``. Framework errors (bad JSON, unknown route, wrong method, validation) and anything
unexpected are converted to this shape by the handlers in ``api/problems.py``, so no response ever
carries a stack trace, SQL or personal data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from litestar import Response
from litestar.openapi.datastructures import ResponseSpec

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


__all__ = [
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
    "Unauthorized",
    "ValidationFailed",
    "problem_response",
    "problem_responses",
]
