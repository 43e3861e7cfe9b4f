"""Responses whose JSON body is already encoded (an idempotent answer, a cached page), and conditional requests."""

from __future__ import annotations

from typing import TypeVar, cast

from litestar import Response
from litestar.enums import MediaType

T = TypeVar("T")


def answer(response: Response[bytes], model: type[T]) -> Response[T]:
    """``response``, whose body is the JSON of a ``model`` (or of a problem), as the handler declares it.

    The handler's ``Response[model]`` annotation is what documents the answer in OpenAPI; the body
    was encoded from that model (``idempotency.run`` encodes and stores what ``create`` returned),
    so the cast states that contract rather than hiding a gap.
    """
    return cast("Response[T]", response)


def encoded(
    body: bytes, model: type[T], *, status_code: int | None = None, headers: dict[str, str] | None = None
) -> Response[T]:
    """``body``, the JSON of a ``model``, sent as it is (see :func:`answer`)."""
    return answer(Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers), model)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak or strong) or ``*``: the page has not changed (304)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or "*" in tags
