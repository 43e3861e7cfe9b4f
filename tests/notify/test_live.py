"""Live push over Server-Sent Events: every device of a person, each connected to another server
process, hears the same notification; heartbeats keep the line; Last-Event-ID resumes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar.testing import AsyncTestClient

from api.kernel import outbox
from tests.auth.helpers import assert_problem, auth
from tests.conftest import TEST_MASTER_KEY
from tests.notify.helpers import Pipeline
from tests.people import citizen, id_number

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "http://127.0.0.1:8000"  # the test app's base URL: tokens it issues must verify in the servers too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _servers(database_url: str, redis_url: str, count: int, *, with_procs: bool = False) -> Iterator[Any]:
    """``count`` separate ``zhangban serve`` processes on the same database and Redis: their base URLs
    (and their processes, ``with_procs``)."""
    procs, bases = [], []
    for _ in range(count):
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
        env |= {
            "ZB_DATABASE_URL": database_url,
            "ZB_REDIS_URL": redis_url,
            "ZB_MASTER_KEY": TEST_MASTER_KEY,
            "ZB_PORT": str(port),
            "ZB_PUBLIC_BASE_URL": ISSUER,
            "ZB_RUN_JOBS": "false",
            "ZB_NOTIFY_HEARTBEAT_SECONDS": "0.5",
            "ZB_LOG_FORMAT": "text",
            "ZB_LOG_LEVEL": "ERROR",
            "ZB_ENV": "development",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for proc, base in zip(procs, bases, strict=True):
            while True:
                assert proc.poll() is None, "a server exited"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "a server did not start"
                time.sleep(0.2)
        yield (bases, procs) if with_procs else bases
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


class Listener:
    """One device's event stream, parsed into (event, id, data) as the events arrive."""

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []  # every event so far, in order
        self.taken = 0  # how far next() has read
        self.arrived = asyncio.Event()
        self.ended = asyncio.Event()  # the server ended the stream
        self.comments = 0

    async def run(
        self, base: str, token: str | None, last_event_id: str | None = None, params: dict[str, str] | None = None
    ) -> None:
        headers = (auth(token) if token else {}) | ({"Last-Event-ID": last_event_id} if last_event_id else {})
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as http,
            http.stream("GET", f"{base}/v1/notifications/stream", headers=headers, params=params) as r,
        ):
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            event: dict[str, Any] = {}
            async for line in r.aiter_lines():
                if not line:
                    if event:
                        self.log.append(event)
                        self.arrived.set()
                    event = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(": ")
                    event[name] = value
        self.ended.set()

    async def next(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next event of ``kind`` after those already taken."""
        async with asyncio.timeout(timeout):
            while True:
                while self.taken < len(self.log):
                    self.taken += 1
                    if self.log[self.taken - 1].get("event") == kind:
                        return self.log[self.taken - 1]
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def listening(
    base: str, token: str | None, last_event_id: str | None = None, params: dict[str, str] | None = None
) -> AsyncIterator[Listener]:
    listener = Listener()
    task = asyncio.create_task(listener.run(base, token, last_event_id, params))
    try:
        await listener.next("sync")  # the stream is open and subscribed once it said where the change log is
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _expiring(pool: asyncpg.Pool, person_id: str, n: int) -> None:
    async with pool.acquire() as c, c.transaction():
        await outbox.enqueue(
            c,
            "notify",
            {
                "event": "certificate.expiring",
                "person_id": person_id,
                "type_name": "居民身份证",
                "valid_until": "2026-12-31T00:00:00+00:00",
                "days": 30,
            },
            dedup_key=f"live:{n}",
        )


async def test_every_device_on_any_server_hears_it_and_a_reconnect_resumes(
    client: AsyncTestClient, clerk: str, database_url: str, redis_url: str, pool: asyncpg.Pool, pipeline: Pipeline
) -> None:
    number = id_number("19920304", 7, male=False)
    phone = await citizen(client, clerk, name="王芳", id_number=number)
    tablet = await citizen(client, clerk, name="王芳", id_number=number)  # another login of the same person
    person = phone["account"]["person_id"]
    assert tablet["account"]["person_id"] == person
    await pipeline.drain()  # the alerts of both logins' proofs at the window come before the listening starts

    with _servers(database_url, redis_url, 2) as (one, two):
        async with listening(one, phone["access_token"]) as a, listening(two, tablet["access_token"]) as b:
            await _expiring(pool, person, 1)
            await pipeline.drain()
            first_a, first_b = await a.next("notification"), await b.next("notification")
            assert first_a["id"] == first_b["id"]
            item = msgspec.json.decode(first_a["data"])
            assert item["kind"] == "certificate.expiring" and item["title"] == "电子证照即将到期"
            sync = msgspec.json.decode((await a.next("sync"))["data"])
            assert sync["version"] >= 1
            await asyncio.sleep(1.2)
            assert a.comments >= 1 and b.comments >= 1  # heartbeats every 0.5 s

        # The phone was offline while a second notification came; on reconnect it gets it first.
        await _expiring(pool, person, 2)
        await pipeline.drain()
        async with listening(one, phone["access_token"], last_event_id=first_a["id"]) as again:
            replayed = [e for e in again.log if e.get("event") == "notification"]
        assert len(replayed) == 1 and replayed[0]["id"] != first_a["id"]
        assert msgspec.json.decode(replayed[0]["data"])["kind"] == "certificate.expiring"
        assert again.log[-1]["event"] == "sync"  # replay first, then where the change log stands


async def test_a_browser_opens_the_stream_with_a_one_time_ticket(
    client: AsyncTestClient, clerk: str, database_url: str, redis_url: str, pool: asyncpg.Pool, pipeline: Pipeline
) -> None:
    """EventSource cannot send an Authorization header: it takes a ticket, once, and resumes by parameter."""
    me = await citizen(client, clerk, name="王芳", id_number=id_number("19920305", 8, male=False))
    person = me["account"]["person_id"]
    await pipeline.drain()  # the alert of her proof at the window comes before the listening starts

    async def ticket() -> str:
        r = await client.post("/v1/notifications/stream-tickets", headers=auth(me["access_token"]))
        assert r.status_code == 201, r.text
        assert r.json()["expires_in"] == 60
        return r.json()["ticket"]

    with _servers(database_url, redis_url, 1) as (one,):
        first = await ticket()
        async with listening(one, None, params={"ticket": first}) as browser:
            await _expiring(pool, person, 31)
            await pipeline.drain()
            seen = await browser.next("notification")
        async with httpx.AsyncClient() as http:
            for spent in (first, "not-a-ticket"):
                r = await http.get(f"{one}/v1/notifications/stream", params={"ticket": spent})
                assert r.status_code == 401 and r.json()["type"] == "unauthorized"
            r = await http.get(f"{one}/v1/notifications/stream")
            assert r.status_code == 401
        # Offline a while; a new EventSource with a new ticket names the last event it saw.
        await _expiring(pool, person, 32)
        await pipeline.drain()
        async with listening(one, None, params={"ticket": await ticket(), "last_event_id": seen["id"]}) as again:
            replayed = [e for e in again.log if e.get("event") == "notification"]
        assert len(replayed) == 1 and replayed[0]["id"] != seen["id"]
    assert_problem(await client.post("/v1/notifications/stream-tickets"), 401, "unauthorized")
