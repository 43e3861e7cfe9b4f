"""The request's clock: real UTC time, unless tests pinned one on the app's state."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.datastructures import State


def current_time(state: State) -> datetime:
    """The request's clock: real UTC time, unless tests pinned ``state.clock``."""
    clock = state.get("clock")
    return clock() if clock else datetime.now(UTC)
