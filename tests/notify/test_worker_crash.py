"""A real ``zhangban worker`` killed in the middle of a batch loses nothing, and shows nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from api.config import Settings
from api.kernel import outbox
from api.kernel.crypto import Keyring
from auth import persons
from notify import service, webhook_store
from tests.conftest import TEST_MASTER_KEY
from tests.notify.helpers import Receiver
from tests.people import department_id, id_number

N = 2000
ROOT = Path(__file__).resolve().parents[2]


def _worker(database_url: str, redis_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {
        "ZB_DATABASE_URL": database_url,
        "ZB_REDIS_URL": redis_url,
        "ZB_MASTER_KEY": TEST_MASTER_KEY,
        "ZB_NOTIFY_CLAIM_TIMEOUT": "2",
        "ZB_LOG_FORMAT": "text",
        "ZB_LOG_LEVEL": "ERROR",
        "ZB_ENV": "development",
        "ZB_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_killing_the_worker_mid_batch_loses_nothing(
    database_url: str,
    redis_url: str,
    settings: Settings,
    pool: asyncpg.Pool,
    conn: asyncpg.Connection,
    receiver: Receiver,
) -> None:
    keyring = Keyring.from_settings(settings)
    now = datetime.now(UTC)
    async with pool.acquire() as c, c.transaction():
        people = [
            await persons.find_or_create_person(
                c, keyring, id_number=id_number(f"19{80 + i // 400}0101", i % 400), name=f"测试{i}", now=now
            )
            for i in range(N)
        ]
        dept = await department_id(c, "shichang")
        receiver.secret = service.new_webhook_secret()
        await webhook_store.create_webhook(
            c,
            keyring,
            webhook_id=uuid.uuid4(),
            department_id=uuid.UUID(dept),
            url=receiver.url,
            events=["certificate.issued"],
            secret=receiver.secret,
            actor="test",
            now=now,
        )
        for i, person in enumerate(people):
            payload = {
                "certificate_id": str(uuid.uuid4()),
                "department_id": dept,
                "type_code": "T",
                "type_name": "营业执照",
                "licence_id": f"L{i}",
                "person_id": str(person),
                "application_id": None,
            }
            await outbox.enqueue(c, "certificate.issued", payload, dedup_key=f"crash:{i}", partition_key=dept)
    assert await conn.fetchval("SELECT count(*) FROM person WHERE id = ANY($1::uuid[])", people) == N
    receiver.delay = 0.01  # a department system that takes its time: the kill lands mid-batch

    first = _worker(database_url, redis_url)
    try:
        await _until(lambda: _received_at_least(receiver, N // 4), timeout=60)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    delivered_at_kill = await conn.fetchval("SELECT count(*) FROM notify_delivery WHERE status = 'delivered'")
    assert delivered_at_kill < N, "the worker finished before it was killed; nothing was tested"

    second = _worker(database_url, redis_url)
    try:

        async def done() -> bool:
            return await conn.fetchval("SELECT count(*) FROM notify_delivery WHERE status = 'delivered'") == N

        try:
            await _until(done, timeout=90)
        except AssertionError:
            counts = await conn.fetch("SELECT status, count(*), max(attempts) FROM notify_delivery GROUP BY status")
            second.kill()
            raise AssertionError((counts, second.communicate()[0].decode(errors="replace")[-3000:])) from None
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in output, output

    # Every event: one inbox item for its person, one department copy, delivered once as far as anyone can see.
    assert await conn.fetchval("SELECT count(*) FROM notify_notification WHERE person_id IS NOT NULL") == N
    assert await conn.fetchval("SELECT count(DISTINCT person_id) FROM notify_notification") == N
    assert await conn.fetchval("SELECT count(*) FROM notify_other_notification WHERE department_id IS NOT NULL") == N
    assert await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'notification'") == N
    events = receiver.verified()
    assert len({e["_id"] for e in events}) == N  # at least once: every webhook-id arrived...
    assert len(events) - N <= 64 * 4  # ...and repeats are bounded by what was in flight when the worker died


async def _received_at_least(receiver: Receiver, n: int) -> bool:
    with receiver.lock:
        return len(receiver.received) >= n
