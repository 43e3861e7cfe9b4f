"""What handlers can ask for: the pool, Redis, settings, keyring and the clock.

Handlers annotate parameters with these aliases (``db: Db``, ``now: Now``); ``app.py`` provides them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias, cast

import asyncpg
from litestar import Request
from litestar.di import NamedDependency, Provide

from api.config import Settings
from api.kernel.clock import current_time
from api.kernel.crypto import Keyring

Db: TypeAlias = NamedDependency[asyncpg.Pool]
Redis: TypeAlias = NamedDependency[Any]
Config: TypeAlias = NamedDependency[Settings]
Keys: TypeAlias = NamedDependency[Keyring]
Now: TypeAlias = NamedDependency[datetime]
Previous: TypeAlias = NamedDependency[Any]  # what a chained provider takes and ignores (``in_turn``)


class FromConnection(Provide):
    """A dependency computed from the request alone: ``fn(request)``, sync or async.

    A sync one runs in the event loop (a lookup in the app's state or a bearer token already
    verified never blocks), not in a thread. ``refuses``: it may answer the request itself (a 401),
    so ``in_turn`` puts it after every other.
    """

    def __init__(self, fn: Callable[[Request], Any], *, refuses: bool = False) -> None:
        self.fn, self.refuses = fn, refuses
        super().__init__(fn, sync_to_thread=None if inspect.iscoroutinefunction(fn) else False)

    def after(self, previous: str) -> FromConnection:
        """The same provider, resolved once the dependency named ``previous`` is (it takes it and ignores it)."""
        fn = self.fn
        provide: Callable[..., Any]
        if inspect.iscoroutinefunction(fn):

            async def provide(request: Request, **_: Any) -> Any:
                return await fn(request)
        else:

            def provide(request: Request, **_: Any) -> Any:
                return fn(request)

        keyword = inspect.Parameter.KEYWORD_ONLY
        cast(Any, provide).__signature__ = inspect.Signature(
            [
                inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
                inspect.Parameter(previous, keyword, annotation=Previous),
            ]
        )
        provide.__annotations__ = {"request": Request, previous: Previous, "return": Any}
        return FromConnection(provide, refuses=self.refuses)


TRUNK = ("now", "db")


def in_turn(dependencies: dict[str, Provide], trunk: tuple[str, ...] = TRUNK) -> dict[str, Provide]:
    """The same dependencies, the ``FromConnection`` ones resolved one after another.

    Litestar resolves the dependencies a handler needs in batches, those needing nothing still
    unresolved together, and a batch of more than one in an anyio task group
    (litestar-org/litestar#4563). Ours are a pool handle, the clock, settings and a bearer token
    nearly always verified already: none waits on anything another could overlap, and the task
    group of a handler taking ``principal``, ``db`` and ``now`` cost more CPU than the rest of a
    wallet read served as built. So each takes the one to resolve before it as an argument it
    ignores, and a batch holds one dependency, resolved in the request's own task.

    Every link costs a handler that needs what comes after it one more resolution (about a tenth
    of a small read's CPU), so the chain is short where handlers are many: ``trunk`` (the clock,
    then the pool), then each one that may refuse the request (``principal``: nothing may depend
    on those); the other lookups (keyring, Redis, settings, the e-certificate state) follow the
    trunk in a line of their own, so a handler taking one of them beside ``principal`` resolves
    those two together, as Litestar would.
    """
    ours = {name: dep for name, dep in dependencies.items() if isinstance(dep, FromConnection)}
    chained: dict[str, Provide] = {}
    previous: str | None = None
    for name in trunk:
        chained[name] = ours[name] if previous is None else ours[name].after(previous)
        previous = name
    end = previous
    line = end
    for name, dep in ours.items():
        if name in trunk:
            continue
        if dep.refuses:
            chained[name] = dep if end is None else dep.after(end)
        else:
            chained[name] = dep if line is None else dep.after(line)
            line = name
    return {**dependencies, **chained}


def _from_state(attr: str) -> Provide:
    def provide(request: Request) -> Any:
        return getattr(request.app.state, attr)

    return FromConnection(provide)


def _now(request: Request) -> datetime:
    return current_time(request.app.state)


DEPENDENCIES = {
    "now": FromConnection(_now),
    "db": _from_state("pool"),
    "keyring": _from_state("keyring"),
    "redis": _from_state("redis"),
    "settings": _from_state("settings"),
}
