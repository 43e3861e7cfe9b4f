"""Opaque cursors and the ``limit`` parameter shared by every list (API.md: Lists)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar

import msgspec
from litestar.params import QueryParameter

from api.kernel.problems import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (default 50, at most 500).")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="Opaque cursor from `next_cursor`.")]


class CursorInvalid(BadRequest):
    """分页游标无效"""

    slug = "cursor_invalid"


def encode_cursor(value: Any) -> str:
    """Position → URL-safe text; clients treat it as opaque."""
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """Text from :func:`encode_cursor` → the position, or 400 ``cursor_invalid``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise CursorInvalid() from None
