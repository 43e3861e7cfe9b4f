"""Dependencies are resolved by Litestar's own public machinery, one after another in the request's task:
nothing patches its private modules."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from litestar import Litestar, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.testing import TestClient

from api.deps import FromConnection, in_turn

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_reaches_into_litestar_private_modules() -> None:
    private = re.compile(r"\blitestar\._\w")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("api", "auth", "esign", "matters", "notify", "sync", "wallet")
        for path in (ROOT / package).rglob("*.py")
        if private.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_dependencies_resolve_in_the_request_task_and_a_refusal_stops_only_its_handlers() -> None:
    tasks: list[object] = []

    def provider(value: str):
        def provide(request: Request) -> str:
            tasks.append(asyncio.current_task())
            return value

        return provide

    async def who(request: Request) -> str:
        tasks.append(asyncio.current_task())
        if request.headers.get("authorization") != "Bearer ok":
            raise NotAuthorizedException()
        return "alice"

    dependencies = in_turn(
        {
            "now": FromConnection(provider("12:00")),
            "db": FromConnection(provider("pool")),
            "keyring": FromConnection(provider("keys")),
            "principal": FromConnection(who, refuses=True),
        }
    )

    @get("/open")
    async def open_route(db: NamedDependency[str], keyring: NamedDependency[str], now: NamedDependency[str]) -> str:
        assert all(task is asyncio.current_task() for task in tasks)
        return f"{db} {keyring} {now}"

    @get("/mine")
    async def mine(principal: NamedDependency[str], db: NamedDependency[str], now: NamedDependency[str]) -> str:
        assert all(task is asyncio.current_task() for task in tasks)
        return f"{principal} {db} {now}"

    with TestClient(Litestar([open_route, mine], dependencies=dependencies)) as client:
        assert client.get("/open").text == "pool keys 12:00"
        assert len(tasks) == 3
        tasks.clear()
        assert client.get("/mine", headers={"Authorization": "Bearer ok"}).text == "alice pool 12:00"
        assert len(tasks) == 3
        tasks.clear()
        assert client.get("/mine").status_code == 401
        tasks.clear()
        assert client.get("/open").status_code == 200
