"""Background jobs: periodic ticks run once across processes, failures don't stop the job."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import redis.asyncio as aioredis

from api.kernel.jobs import Job, JobRunner


async def test_periodic_singleton_runs_once_per_tick_across_runners(redis_url: str) -> None:
    r = aioredis.from_url(redis_url)
    ticks: list[str] = []

    async def tick(state: object) -> None:
        ticks.append(state.name)

    job = Job("test.tick", tick, every=0.3)
    runners = [JobRunner(SimpleNamespace(redis=r, name=n), [job]) for n in ("a", "b", "c")]
    for runner in runners:
        runner.start()
    await asyncio.sleep(0.75)
    for runner in runners:
        await runner.stop()
    await r.aclose()
    # Three processes, about three ticks in 0.75 s: each tick ran in exactly one of them.
    assert 2 <= len(ticks) <= 4, ticks


async def test_a_failing_tick_does_not_stop_the_job(redis_url: str) -> None:
    r = aioredis.from_url(redis_url)
    calls = 0

    async def flaky(state: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first tick fails")

    runner = JobRunner(SimpleNamespace(redis=r), [Job("test.flaky", flaky, every=0.05, singleton=False)])
    runner.start()
    await asyncio.sleep(0.3)
    await runner.stop()
    await r.aclose()
    assert calls >= 3


async def test_stopping_gives_up_on_a_job_that_ignores_cancellation(caplog) -> None:
    ignored = 0

    async def stubborn(state: object) -> None:
        nonlocal ignored
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if ignored:
                    raise
                ignored += 1  # a bug of this kind must not keep the process from exiting

    async def polite(state: object) -> None:
        await asyncio.sleep(10)

    runner = JobRunner(SimpleNamespace(), [Job("test.stubborn", stubborn), Job("test.polite", polite)])
    runner.start()
    await asyncio.sleep(0.05)
    left = list(runner.tasks)
    started = asyncio.get_running_loop().time()
    await runner.stop(timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 2
    assert ignored == 1 and "job:test.stubborn did not stop" in caplog.text and "test.polite" not in caplog.text
    left[0].cancel()  # the second cancellation ends it, so the test leaves nothing running
    await asyncio.gather(*left, return_exceptions=True)
