"""What handlers can ask for: the pool, Redis, settings, keyring and the clock.

Handlers annotate parameters with these aliases (``db: Db``, ``now: Now``); ``app.py`` provides them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias

import asyncpg
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


def _from_state(attr: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(state, attr)

    return Provide(provide, sync_to_thread=False)


DEPENDENCIES = {
    "db": _from_state("pool"),
    "redis": _from_state("redis"),
    "settings": _from_state("settings"),
    "keyring": _from_state("keyring"),
    "now": Provide(current_time, sync_to_thread=False),
}
