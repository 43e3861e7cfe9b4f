"""Background jobs: periodic sweeps and long-running consumers, inside ``serve`` or ``zhangban worker``.

A domain lists its jobs (``JOBS = [Job(...)]``) and ``api/app.py`` collects them. A periodic job
with ``singleton=True`` takes a Redis lock for each tick, so with many processes one of them runs
each tick; a loop job (``every=None``) runs in every process (e.g. stream consumers in a group).
Failures are logged and the job goes on: a sweep that crashes must not stop the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("zhangban.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Any], Awaitable[Any]]  # receives the app state (pool, redis, keyring, settings)
    every: float | None = None  # seconds between ticks; None: a loop that runs until cancelled
    singleton: bool = True


def now_of(state: Any) -> datetime:
    """The time as the jobs see it: ``state.clock`` when tests pin it, else real UTC time."""
    clock = getattr(state, "clock", None)
    return clock() if clock else datetime.now(UTC)


async def in_batches(pool: Any, statement: str, *args: Any, batch: int = 5000) -> int:
    """Run ``statement`` (which takes ``batch`` as its last parameter and touches at most that many
    rows) until a run touches fewer; return the total. Short statements keep a backlog from holding
    locks or bloating one transaction."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            n = int((await conn.execute(statement, *args, batch)).split()[-1])
        total += n
        if n < batch:
            return total


class JobRunner:
    def __init__(self, state: Any, jobs: list[Job]) -> None:
        self.state = state
        self.jobs = jobs
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for job in self.jobs:
            self.tasks.append(asyncio.create_task(self._drive(job), name=f"job:{job.name}"))

    async def stop(self, *, timeout: float = 15.0) -> None:
        """Cancel every job and wait for them, at most ``timeout`` seconds: a job that does not end
        by then is named in the log (with where it waits) and left behind, so that a shutdown never
        hangs. Work it held is safe either way: stream entries stay pending, leases run out."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            _, stuck = await asyncio.wait(self.tasks, timeout=timeout)
            for task in stuck:
                frames = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno}" for f in task.get_stack(limit=8))
                log.error("job task %s did not stop within %.0f s (waiting at %s)", task.get_name(), timeout, frames)
        for task in self.tasks:
            if task.done() and not task.cancelled():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
        self.tasks.clear()

    async def _drive(self, job: Job) -> None:
        if job.every is None:
            while True:
                try:
                    await job.run(self.state)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job %s failed; restarting", job.name)
                    await asyncio.sleep(1)
        while True:
            try:
                if not job.singleton or await self._claim(job):
                    await job.run(self.state)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s failed", job.name)
            await asyncio.sleep(job.every)

    async def _claim(self, job: Job) -> bool:
        # The lock lives a little less than the interval: the next tick anywhere can take it again.
        ttl_ms = max(100, int(job.every * 900)) if job.every else 1000
        return bool(await self.state.redis.set(f"zb:job:{job.name}", os.getpid(), nx=True, px=ttl_ms))


async def run_once(state: Any, job: Job) -> Any:
    """Run one tick of a job now (tests and operator commands)."""
    return await job.run(state)
