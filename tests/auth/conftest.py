"""Identity tests run the real app against the WeChat simulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import msgspec
import pytest

from api.config import Settings
from tests.auth.helpers import operator
from tests.wechat_sim_server import running_sim


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    with running_sim() as url:
        yield url


@pytest.fixture
async def sim(sim_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API, reset for every test."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=5) as c:
        assert (await c.post("/_sim/reset")).status_code == 200
        yield c


@pytest.fixture
def settings(settings: Settings, sim_url: str) -> Settings:
    return msgspec.structs.replace(settings, wechat_api_base=sim_url)


@pytest.fixture
async def op(client: object, conn: asyncpg.Connection, settings: Settings) -> str:
    """An operator access token for the running app."""
    return await operator(conn, settings)
