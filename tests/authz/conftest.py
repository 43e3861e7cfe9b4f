"""The authorization and fuzzing checks talk real HTTP to the app on a loopback port, like a client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.config import Settings
from api.kernel import redis_client
from tests.authz.world import World, build_world, local_settings
from tests.browser import live_server
from tests.conftest import with_redis_db
from tests.wechat_sim_server import running_sim


@pytest.fixture(scope="session")
def wechat_url() -> Iterator[str]:
    with running_sim() as url:
        yield url


@pytest.fixture
async def redis_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    """A Redis database of this run's own (1-8, by process id; the suite's is 9, notifications' 11-15):
    other runs sharing the server flush theirs at every test, which would take the SMS codes, the
    rate-limit buckets and the notification streams of these longer tests away mid-test."""
    url = with_redis_db(servers[1], 1 + os.getpid() % 8)
    client = redis_client.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield url


@pytest.fixture
def settings(settings: Settings, wechat_url: str) -> Settings:
    return local_settings(settings, wechat_url)


@pytest.fixture
def live(app: Litestar) -> Iterator[str]:
    with live_server(app) as url:
        yield url


@pytest.fixture
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live, timeout=30) as c:
        yield c


@pytest.fixture
async def world(http: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings) -> World:
    return await build_world(http, conn, settings)
