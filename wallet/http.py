"""Small pieces the wallet's controllers share: the e-certificate state and keyset cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Request

from api.kernel.pagination import decode_cursor, encode_cursor
from esign import EsignState


def esign_of(request: Request[Any, Any, Any]) -> EsignState:
    return request.app.state.esign


def keyset(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The ``(time, id)`` position of a cursor from ``next_cursor``; 400 ``cursor_invalid`` if forged."""
    return None if cursor is None else decode_cursor(cursor, tuple[datetime, UUID])


def next_cursor(rows: list[Any], limit: int, time_attr: str = "at") -> str | None:
    """The keyset of a full page's last row; None on a short page."""
    return encode_cursor([getattr(rows[-1], time_attr), rows[-1].id]) if len(rows) == limit else None
