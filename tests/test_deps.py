"""Dependencies resolve one after another in the request's own task (no task group per request)."""

from __future__ import annotations

import asyncio

from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.testing import TestClient

from api.deps import resolve_dependencies_in_turn


Dep = NamedDependency[int]


def test_dependencies_resolve_in_the_request_task_and_errors_still_reach_the_client() -> None:
    resolve_dependencies_in_turn()
    seen: list[object] = []

    async def first() -> int:
        seen.append(asyncio.current_task())
        return 1

    async def second() -> int:
        seen.append(asyncio.current_task())
        return 2

    async def failing() -> int:
        raise ValueError("broken dependency")

    @get("/sum", dependencies={"a": Provide(first), "b": Provide(second)})
    async def total(a: Dep, b: Dep) -> dict[str, int]:
        seen.append(asyncio.current_task())
        return {"sum": a + b}

    @get("/broken", dependencies={"a": Provide(first), "c": Provide(failing)})
    async def broken(a: Dep, c: Dep) -> dict[str, int]:
        return {"never": a + c}

    with TestClient(Litestar([total, broken])) as client:
        assert client.get("/sum").json() == {"sum": 3}
        assert len(seen) == 3 and seen[0] is seen[1] is seen[2]
        assert client.get("/broken").status_code == 500  # the dependency's error, not an exception group
