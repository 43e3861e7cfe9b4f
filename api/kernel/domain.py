"""The one shape in which a domain plugs into the application: its ``wiring.DOMAIN``.

``api/app.py`` loops over the domains and knows nothing else of them: their routes, jobs,
dependencies, OpenAPI tags, what they open at start and close at stop, and how their open streams
say goodbye when the process is told to stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the settings are passed in; the kernel imports nothing of the root
    from litestar.datastructures import State

    from api.config import Settings
    from api.kernel.jobs import Job


def _no_routes(settings: Settings) -> Sequence[Any]:
    return ()


@dataclass(frozen=True, kw_only=True)
class Domain:
    """A domain as the application sees it."""

    name: str
    routes: Callable[[Settings], Sequence[Any]] = _no_routes  # route handlers, given the settings
    jobs: Sequence[Job] = ()
    dependencies: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[Any] = ()  # OpenAPI tags (litestar.openapi.spec.Tag)
    start: Callable[[State], Awaitable[None]] | None = None  # after the pool and Redis are open
    stop: Callable[[State], Awaitable[None]] | None = None  # before they close, in reverse order
    # On SIGTERM: end what the server would drop (live streams, sockets) within ``grace`` seconds;
    # true when all ended in time.
    goodbye: Callable[[State, float], Awaitable[bool]] | None = None
