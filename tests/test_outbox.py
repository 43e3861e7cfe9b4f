"""Outbox: written with the business change, relayed once per claim, never lost by a failed hand-off."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest

from api.kernel import outbox, redis_client


async def _enqueue(pool: asyncpg.Pool, n: int, topic: str = "test") -> None:
    async with pool.acquire() as c, c.transaction():
        for i in range(n):
            await outbox.enqueue(c, topic, {"i": i}, dedup_key=f"{topic}:{i}", partition_key=f"dept-{i % 3}")


async def test_rolled_back_business_write_leaves_no_event(pool: asyncpg.Pool) -> None:
    with pytest.raises(ZeroDivisionError):
        async with pool.acquire() as c, c.transaction():
            await outbox.enqueue(c, "test", {"x": 1}, dedup_key="gone")
            1 / 0  # noqa: B018
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_same_dedup_key_is_queued_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as c, c.transaction():
        assert await outbox.enqueue(c, "test", {"x": 1}, dedup_key="k") is not None
        assert await outbox.enqueue(c, "test", {"x": 2}, dedup_key="k") is None
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_concurrent_relays_never_take_the_same_row(pool: asyncpg.Pool) -> None:
    await _enqueue(pool, 300)
    published: list[int] = []

    async def publish(batch: list[outbox.OutboxMessage]) -> None:
        await asyncio.sleep(0.01)  # hold the claim so the other relays must skip these rows
        published.extend(m.id for m in batch)

    async def relay() -> None:
        while await outbox.relay_once(pool, publish, limit=25):
            pass

    await asyncio.gather(*(relay() for _ in range(4)))
    assert len(published) == 300 and len(set(published)) == 300
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_failed_hand_off_is_retried_later_not_lost(pool: asyncpg.Pool) -> None:
    await _enqueue(pool, 5)

    async def broken(batch: list[outbox.OutboxMessage]) -> None:
        raise ConnectionError("redis went away")

    assert await outbox.relay_once(pool, broken) == 0
    row = await pool.fetchrow(
        "SELECT count(*) AS n, min(attempts) AS a, bool_and(available_at > now()) AS later FROM outbox WHERE published_at IS NULL"
    )
    assert (row["n"], row["a"], row["later"]) == (5, 1, True)
    # Once the back-off has passed, the same rows go out.
    await pool.execute("UPDATE outbox SET available_at = now()")
    got: list[outbox.OutboxMessage] = []

    async def ok(batch: list[outbox.OutboxMessage]) -> None:
        got.extend(batch)

    assert await outbox.relay_once(pool, ok) == 5
    assert sorted(m.payload["i"] for m in got) == [0, 1, 2, 3, 4]


async def test_stream_publisher_writes_to_redis_streams(pool: asyncpg.Pool, redis_url: str) -> None:
    await _enqueue(pool, 3, topic="notify")
    r = redis_client.from_url(redis_url)
    try:
        assert await outbox.relay_once(pool, outbox.stream_publisher(r)) == 3
        entries = await r.xrange("zb:events:notify")
        assert [msgspec.json.decode(fields[b"payload"]) for _, fields in entries] == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert entries[0][1][b"dedup_key"] == b"notify:0"
    finally:
        await r.aclose()
