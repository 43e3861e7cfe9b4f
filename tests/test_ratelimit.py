"""The Redis rate limiter: atomic windows, combined limits, Retry-After, failing closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from api.kernel import ratelimit, redis_client
from api.kernel.problems import RateLimited, ServiceUnavailable
from api.kernel.ratelimit import Limit


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = redis_client.from_url(redis_url)
    yield client
    await client.aclose()


async def test_allows_up_to_the_limit_then_names_the_wait(redis: aioredis.Redis) -> None:
    lim = Limit("t", 3, 60)
    assert [await ratelimit.check(redis, "s", lim) for _ in range(3)] == [0, 0, 0]
    wait = await ratelimit.check(redis, "s", lim)
    assert 1 <= wait <= 60


async def test_subjects_have_their_own_budgets(redis: aioredis.Redis) -> None:
    lim = Limit("t", 1, 60)
    assert await ratelimit.check(redis, "a", lim) == 0
    assert await ratelimit.check(redis, "b", lim) == 0
    assert await ratelimit.check(redis, "a", lim) > 0


async def test_a_refused_hit_counts_against_no_limit(redis: aioredis.Redis) -> None:
    minute, day = Limit("m", 1, 60), Limit("d", 10, 86400)
    assert await ratelimit.check(redis, "p", minute, day) == 0
    for _ in range(5):
        assert await ratelimit.check(redis, "p", minute, day) > 0
    assert int(await redis.get(ratelimit.key("p", "d"))) == 1


async def test_the_longest_wait_wins(redis: aioredis.Redis) -> None:
    minute, day = Limit("m", 5, 60), Limit("d", 1, 86400)
    await ratelimit.check(redis, "p", minute, day)
    assert await ratelimit.check(redis, "p", minute, day) > 3600


async def test_window_reopens_after_expiry(redis: aioredis.Redis) -> None:
    lim = Limit("short", 1, 1)
    assert await ratelimit.check(redis, "x", lim) == 0
    assert await ratelimit.check(redis, "x", lim) == 1
    await asyncio.sleep(1.1)
    assert await ratelimit.check(redis, "x", lim) == 0


async def test_concurrent_hits_never_exceed_the_limit(redis: aioredis.Redis) -> None:
    lim = Limit("c", 7, 60)
    results = await asyncio.gather(*(ratelimit.check(redis, "burst", lim) for _ in range(40)))
    assert results.count(0) == 7


async def test_hit_raises_rate_limited_with_retry_after(redis: aioredis.Redis) -> None:
    lim = Limit("h", 1, 30)
    await ratelimit.hit(redis, "y", lim)
    with pytest.raises(RateLimited) as info:
        await ratelimit.hit(redis, "y", lim)
    assert info.value.slug == "rate_limited" and info.value.status == 429
    assert 1 <= int(info.value.headers["Retry-After"]) <= 30


async def test_reset_forgets_the_counter(redis: aioredis.Redis) -> None:
    lim = Limit("r", 1, 60)
    await ratelimit.hit(redis, "z", lim)
    await ratelimit.reset(redis, "z", lim)
    await ratelimit.hit(redis, "z", lim)


async def test_fails_closed_when_redis_is_down() -> None:
    down = aioredis.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(ServiceUnavailable):
            await ratelimit.hit(down, "s", Limit("t", 1, 60))
    finally:
        await down.aclose()
