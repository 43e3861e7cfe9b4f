"""What handlers can ask for: the pool, Redis, settings, keyring and the clock.

Handlers annotate parameters with these aliases (``db: Db``, ``now: Now``); ``app.py`` provides them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from api.config import Settings
from api.crypto import Keyring

Db: TypeAlias = NamedDependency[asyncpg.Pool]
Redis: TypeAlias = NamedDependency[Any]
Config: TypeAlias = NamedDependency[Settings]
Keys: TypeAlias = NamedDependency[Keyring]
Now: TypeAlias = NamedDependency[datetime]


def current_time(state: State) -> datetime:
    """The request's clock: real UTC time, unless tests pinned ``state.clock``."""
    clock = state.get("clock")
    return clock() if clock else datetime.now(UTC)


class FromConnection(Provide):
    """A dependency computed from the request alone: ``fn(request)``, sync or async.

    Litestar checks each provider's arguments against a signature model on every request; for a
    lookup in the app's state or a bearer token already verified, that check is most of the cost,
    so ``resolve_dependencies_in_turn`` calls these directly (Litestar's own resolver still can).
    """

    def __init__(self, fn: Callable[[Request], Any]) -> None:
        self.direct = fn
        self.awaitable = inspect.iscoroutinefunction(fn)
        super().__init__(fn, sync_to_thread=None if self.awaitable else False)


def _from_state(attr: str) -> Provide:
    def provide(request: Request) -> Any:
        return getattr(request.app.state, attr)

    return FromConnection(provide)


def _now(request: Request) -> datetime:
    return current_time(request.app.state)


def resolve_dependencies_in_turn() -> None:
    """Resolve each handler's dependencies one after another, in the request's own task.

    Litestar resolves independent dependencies concurrently in an anyio task group
    (litestar-org/litestar#4563). Ours are a pool handle, the clock, settings and a bearer token
    that is nearly always verified already: none waits on anything another could overlap, and a
    task group per request cost more CPU than all of them (a third of a small read). Installed
    once by ``create_app``; without the attributes it relies on, Litestar's own resolver stays.
    """
    from litestar._kwargs import kwargs_model
    from litestar._kwargs.cleanup import DependencyCleanupGroup
    from litestar._kwargs.dependencies import resolve_dependency

    model = kwargs_model.KwargsModel
    if getattr(model.resolve_dependencies, "in_turn", False) or not hasattr(model, "dependency_batches"):
        return

    async def resolve_dependencies(self: Any, connection: Any, kwargs: dict[str, Any]) -> DependencyCleanupGroup:
        cleanup_group = DependencyCleanupGroup()
        for batch in self.dependency_batches:
            for dependency in batch:
                provide = dependency.provide
                if isinstance(provide, FromConnection):
                    value = provide.direct(connection)
                    kwargs[dependency.key] = await value if provide.awaitable else value
                else:
                    await resolve_dependency(dependency, connection, kwargs, cleanup_group)
        return cleanup_group

    resolve_dependencies.in_turn = True  # type: ignore[attr-defined]
    model.resolve_dependencies = resolve_dependencies  # type: ignore[method-assign]


DEPENDENCIES = {
    "db": _from_state("pool"),
    "redis": _from_state("redis"),
    "settings": _from_state("settings"),
    "keyring": _from_state("keyring"),
    "now": FromConnection(_now),
}
