"""Idempotency-Key over HTTP: replay, reuse with another body, in-flight, and failures store nothing."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar, Request, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from api.app import all_jobs
from api.deps import Db
from api.kernel import idempotency
from api.kernel.problems import ValidationFailed


class NewThing(msgspec.Struct):
    name: str


@post("/things", status_code=201)
async def create_thing(request: Request[Any, Any, Any], data: JSONBody[NewThing], db: Db) -> Any:
    async def create() -> tuple[int, dict[str, str]]:
        if data.name == "bad":
            raise ValidationFailed("name may not be bad")
        thing_id = uuid.uuid4()
        await conn.execute("INSERT INTO test_thing (id, name) VALUES ($1, $2)", thing_id, data.name)
        return 201, {"id": str(thing_id), "name": data.name}

    async with db.acquire() as conn, conn.transaction():
        return await idempotency.run(request, conn, scope="test", create=create)


@pytest.fixture
async def things(app: Litestar, pool: asyncpg.Pool) -> AsyncTestClient:
    await pool.execute("CREATE TABLE test_thing (id uuid PRIMARY KEY, name text NOT NULL)")
    app.register(create_thing)
    async with AsyncTestClient(app=app) as c:
        yield c


async def test_same_key_same_body_replays_the_stored_response(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    h = {"Idempotency-Key": "k-1"}
    first = await things.post("/things", json={"name": "a"}, headers=h)
    again = await things.post("/things", json={"name": "a"}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await pool.fetchval("SELECT count(*) FROM test_thing") == 1


async def test_same_key_other_body_is_422(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    h = {"Idempotency-Key": "k-2"}
    await things.post("/things", json={"name": "a"}, headers=h)
    r = await things.post("/things", json={"name": "b"}, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "idempotency_key_reused"
    assert await pool.fetchval("SELECT count(*) FROM test_thing") == 1


async def test_without_a_key_each_request_creates(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    await things.post("/things", json={"name": "a"})
    await things.post("/things", json={"name": "a"})
    assert await pool.fetchval("SELECT count(*) FROM test_thing") == 2


async def test_in_flight_duplicate_is_409(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    h = {"Idempotency-Key": "k-3"}
    # Another request with this key is mid-transaction: it holds the key's transaction lock.
    async with pool.acquire() as other, other.transaction():
        assert await other.fetchval("SELECT pg_try_advisory_xact_lock($1)", idempotency.lock_id("test", "k-3"))
        dup = await things.post("/things", json={"name": "a"}, headers=h)
        assert dup.status_code == 409 and dup.json()["type"] == "idempotency_key_in_flight"
    # Once it has finished, the key works again.
    assert (await things.post("/things", json={"name": "a"}, headers=h)).status_code == 201
    replay = await things.post("/things", json={"name": "a"}, headers=h)
    assert replay.headers["idempotent-replayed"] == "true"
    assert await pool.fetchval("SELECT count(*) FROM test_thing") == 1


async def test_a_failed_request_stores_nothing(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    h = {"Idempotency-Key": "k-4"}
    r = await things.post("/things", json={"name": "bad"}, headers=h)
    assert r.status_code == 422 and r.json()["type"] == "validation_failed"
    assert await pool.fetchval("SELECT count(*) FROM idempotency_key") == 0
    # Nothing was stored, so a corrected request under the same key runs as the first one.
    ok = await things.post("/things", json={"name": "good"}, headers=h)
    assert ok.status_code == 201


async def test_malformed_key_is_400(things: AsyncTestClient) -> None:
    r = await things.post("/things", json={"name": "a"}, headers={"Idempotency-Key": "x" * 300})
    assert r.status_code == 400 and r.json()["type"] == "idempotency_key_invalid"


async def test_keys_are_forgotten_after_a_day(things: AsyncTestClient, pool: asyncpg.Pool) -> None:
    h = {"Idempotency-Key": "k-5"}
    await things.post("/things", json={"name": "a"}, headers=h)
    await things.post("/things", json={"name": "b"}, headers={"Idempotency-Key": "k-6"})
    await pool.execute("UPDATE idempotency_key SET created_at = created_at - interval '25 hours' WHERE key = 'k-5'")
    state = SimpleNamespace(pool=pool)
    assert await idempotency.purge_expired(state) == 1
    assert await pool.fetchval("SELECT array_agg(key) FROM idempotency_key") == ["k-6"]
    # The forgotten key runs as a new request; the remembered one still replays.
    again = await things.post("/things", json={"name": "a"}, headers=h)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert (await things.post("/things", json={"name": "b"}, headers={"Idempotency-Key": "k-6"})).headers[
        "idempotent-replayed"
    ] == "true"
    assert await pool.fetchval("SELECT count(*) FROM test_thing") == 3


async def test_the_purge_works_through_a_backlog_in_batches(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body, content_type, created_at)"
        " SELECT 'old', g::text, '\\x00', 201, '\\x7b7d', 'application/json', now() - interval '2 days'"
        " FROM generate_series(1, $1) g",
        idempotency.PURGE_BATCH + 7,
    )
    assert await idempotency.purge_expired(SimpleNamespace(pool=pool)) == idempotency.PURGE_BATCH + 7
    assert await pool.fetchval("SELECT count(*) FROM idempotency_key") == 0


def test_the_purge_is_a_background_job() -> None:
    assert "api.idempotency_purge" in {job.name for job in all_jobs()}
