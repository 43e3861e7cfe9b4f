"""Real ``zhangban serve`` / ``zhangban worker`` processes that tests kill with SIGKILL and start again."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.config import Settings
from tests.browser import free_port

# The crash tests that passed on the Citus cluster earlier in this test run (tests/cluster/test_citus.py runs
# them there): the slow suites run once each, so those are not run again on the single PostgreSQL.
RAN_ON_CLUSTER: set[str] = set()


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The test's database, Redis and keys for a child process; tokens minted in the test verify there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {
        "ZB_DATABASE_URL": settings.database_url or "",
        "ZB_REDIS_URL": settings.redis_url or "",
        "ZB_MASTER_KEY": settings.master_key or "",
        "ZB_PUBLIC_BASE_URL": settings.base_url,
        "ZB_LOG_FORMAT": "text",
        "ZB_LOG_LEVEL": "ERROR",
        "ZB_WORKERS": "1",
        "ZB_ENV": "development",
        "ZB_WEBHOOK_ALLOW_PRIVATE": "true",
        # Nothing leaves the host: WeChat goes to a loopback port nobody listens on.
        "ZB_WECHAT_API_BASE": "http://127.0.0.1:9",
        **extra,
    }
    return env


@dataclass
class Proc:
    """One ``zhangban`` process (its own process group, so SIGKILL takes granian's workers too)."""

    command: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="zb-fault-", suffix=".log")[1]))
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = self.env | {"ZB_PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "api.cli", self.command],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def kill9(self) -> bool:
        """SIGKILL the whole process group; True when it was running."""
        if self.popen is None or self.popen.poll() is not None:
            return False
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.popen.wait(timeout=30)
        return True

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    async def healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1) as c:
            while time.monotonic() < deadline:
                try:
                    if (await c.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.command} on {self.port} did not become healthy:\n{self.log.read_text()[-2000:]}")

    async def running(self, timeout: float = 60) -> None:
        """For the worker: wait until this start printed that its jobs run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text(errors="replace").count("worker running") >= self.starts:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker did not start:\n{self.log.read_text()[-2000:]}")


async def retrying(send: Callable[[], Awaitable[httpx.Response]], *, timeout: float = 60) -> httpx.Response:
    """Send until the server answers, as a phone on a bad network would: same request, again and again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await send()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


@dataclass
class Tally:
    crashes: int = 0
    in_flight: int = 0  # crashes that landed while a request of the round was outstanding


async def crash_rounds(proc: Proc, rounds: int, work: Callable[[int], Awaitable[Any]], *, seed: int) -> Tally:
    """Per round: run ``work``, SIGKILL the server, start it again, let ``work`` retry until answered.

    The kill points cover each phase of a request by design rather than by luck: the first round is
    answered before the kill (an idle server dies; it also tells how long a request takes here, its
    server freshly started as every round's is), the second kill comes at once (before the request is
    read), and the others are spread over the rest of that time (handling, commit, the answer on its
    way; a request answered before its kill narrows the estimate for the next). ``seed`` shifts them by a fraction of a step, so that two processes of one scenario die at
    interleaved moments rather than the same ones.
    """
    shift = random.Random(seed).random()
    took = 0.0
    tally = Tally()
    for r in range(rounds):
        await proc.healthy()
        started = time.monotonic()
        answered: list[float] = []
        task = asyncio.create_task(work(r))
        task.add_done_callback(
            lambda _, answered=answered, started=started: answered.append(time.monotonic() - started)
        )
        if r == 0:
            await task
        elif r > 1:
            await asyncio.sleep(took * (r - 1 + shift) / (rounds - 1))
        busy = not task.done()
        if answered:  # answered before the kill: a request takes no longer than that here
            took = answered[0] if r == 0 else min(took, answered[0])
        if proc.kill9():
            tally.crashes += 1
            tally.in_flight += busy
        proc.start()
        await task
    await proc.healthy()
    return tally
