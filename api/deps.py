"""What handlers can ask for: the pool, Redis, settings, keyring and the clock.

Handlers annotate parameters with these aliases (``db: Db``, ``now: Now``); ``app.py`` provides them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias

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


class FromConnection(Provide):
    """A dependency computed from the request alone: ``fn(request)``, sync or async.

    A sync one runs in the event loop (a lookup in the app's state or a bearer token already
    verified never blocks), not in a thread.
    """

    def __init__(self, fn: Callable[[Request], Any]) -> None:
        super().__init__(fn, sync_to_thread=None if inspect.iscoroutinefunction(fn) else False)


def _from_state(attr: str) -> Provide:
    def provide(request: Request) -> Any:
        return getattr(request.app.state, attr)

    return FromConnection(provide)


def _now(request: Request) -> datetime:
    return current_time(request.app.state)


DEPENDENCIES = {
    "db": _from_state("pool"),
    "redis": _from_state("redis"),
    "settings": _from_state("settings"),
    "keyring": _from_state("keyring"),
    "now": FromConnection(_now),
}
