"""Notification tests run the real app, the WeChat simulator and a webhook receiver over real HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import msgspec
import pytest
from litestar.datastructures import State
from litestar.testing import AsyncTestClient

from api.app import close_resources, open_resources
from api.config import Settings
from api.kernel import redis_client
from tests.auth.conftest import sim, sim_url  # noqa: F401 - the WeChat simulator, as identity's tests run it
from tests.auth.helpers import operator
from tests.conftest import with_redis_db
from tests.notify.helpers import Pipeline, Receiver, running_receiver
from tests.people import staff

# The notification tests keep streams, consumer groups and pending entries alive across a test, and
# their worker subprocesses read them: a test run elsewhere flushing the shared database (every test
# does at its start) would take them away mid-test. They use a database of their own on the server,
# picked by process id among 11-15, so that two runs at the same time rarely share one either.
NOTIFY_REDIS_DB = 11 + os.getpid() % 5


@pytest.fixture
async def redis_url(servers: tuple[str, str]) -> AsyncIterator[str]:
    url = with_redis_db(servers[1], NOTIFY_REDIS_DB)
    client = redis_client.from_url(url)
    await client.flushdb()
    await client.aclose()
    yield url


@pytest.fixture
def settings(settings: Settings, sim_url: str) -> Settings:
    # A short claim timeout lets tests watch abandoned work being taken over without waiting a minute.
    return msgspec.structs.replace(
        settings, wechat_api_base=sim_url, notify_claim_timeout=2.0, notify_heartbeat_seconds=0.5
    )


@pytest.fixture
async def op(client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings) -> str:
    return await operator(conn, settings)


@pytest.fixture
async def clerk(client: AsyncTestClient, op: str, conn: asyncpg.Connection) -> str:
    """A window clerk of the administrative approval bureau, who attests identities (L3)."""
    return await staff(client, op, conn, "shenpi", ["clerk"], proven=True)


@pytest.fixture
async def worker_state(client: AsyncTestClient, settings: Settings) -> AsyncIterator[State]:
    """What ``zhangban worker`` opens (pool, Redis, keyring, WeChat and SMS clients), on the test's loop.

    The app under ``client`` runs on its own loop; a worker is another process in production, so the
    jobs get their own resources here too.
    """
    state = State()
    await open_resources(state, settings)
    yield state
    await close_resources(state, None)


@pytest.fixture
async def pipeline(worker_state: State) -> AsyncIterator[Pipeline]:
    """The notification jobs of one worker process, driven step by step."""
    p = Pipeline(worker_state)
    yield p
    await p.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r
