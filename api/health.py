"""``GET /health``: is the process up, and can it reach PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from api import __version__

Check = Literal["ok", "down"]


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok", "unavailable"]
    database: Check
    redis: Check
    version: str


async def _check(probe) -> Check:
    try:
        await asyncio.wait_for(probe(), timeout=2)
    except Exception:
        return "down"
    return "ok"


@get(
    "/health",
    operation_id="Health",
    tags=["meta"],
    summary="Liveness and dependency check",
    description="200 when PostgreSQL and Redis answer; 503 naming the one that does not.",
    responses={503: ResponseSpec(data_container=Health, description="A dependency is down; it is named.")},
)
async def health(state: State) -> Response[Health]:
    async def db() -> None:
        async with state.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    database, redis = await asyncio.gather(_check(db), _check(state.redis.ping))
    ok = database == "ok" and redis == "ok"
    body = Health(status="ok" if ok else "unavailable", database=database, redis=redis, version=__version__)
    return Response(body, status_code=200 if ok else 503)
