"""What the e-certificate routes share: the ``esign`` dependency, response helpers, the authorization problems."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency

from api.deps import FromConnection
from api.kernel.problems import Forbidden, Unauthorized
from esign.state import EsignState

Esign = NamedDependency[EsignState]


def _esign(request: Request) -> EsignState:
    return request.app.state.esign


DEPENDENCIES = {"esign": FromConnection(_esign)}
AUTHZ = (Unauthorized, Forbidden)


def json_response(status: int, body: Any, *, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers)


def matches(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (or ``*``); weak validators compare equal (RFC 9110)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags
