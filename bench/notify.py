"""Notification dispatch benchmark: drain 100,000 queued notifications to the inbox and a webhook receiver.

    .venv/bin/python bench/notify.py [--count 100000] [--people 10000] [--departments 4] [--workers N]

Uses the servers named by ``ZB_BENCH_DATABASE_URL`` (an admin DSN; a scratch database is created and
dropped) and ``ZB_BENCH_REDIS_URL`` (a scratch Redis database: it is flushed), or, without them,
an embedded PostgreSQL and Redis in a temporary folder, as the tests do.

Set-up (not timed): the database is migrated and seeded; ``--people`` persons are made, and one
webhook per department, subscribed to ``certificate.issued``, pointing at a receiver process on
loopback that checks every signature. ``--count`` ``certificate.issued`` events are committed to
the outbox as esign writes them (spread over persons and departments), held back by their
``available_at``; ``--workers`` real ``zhangban worker`` processes start and settle.

Timed: the events are released (one UPDATE), and the clock runs until every notification is in
its person's inbox (with its change-log entry) and every webhook delivery is ``delivered``: relay
→ stream → expansion → inbox → lane → signed POST → outcome recorded, as in production.

Printed: notifications per second, next to raw Redis Streams throughput measured in the same run
(pipelined XADD, then XREADGROUP and XACK of the same number of entries, one process), their ratio,
and where the CPU went.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from common import cpu_seconds, create_database, servers, with_database  # noqa: E402

from api.config import Settings  # noqa: E402
from api.kernel import db  # noqa: E402
from api.kernel.crypto import Keyring  # noqa: E402
from auth import persons  # noqa: E402
from matters import seed  # noqa: E402
from notify import service, webhook_store  # noqa: E402

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

# The department system: a small HTTP/1.1 server (httptools) that checks each signature, counts the
# distinct webhook-ids and answers 204. It runs in its own process, as a department's would.
RECEIVER = r"""
import asyncio, sys
from datetime import UTC, datetime
import httptools
from notify.service import verify_webhook  # noqa: E402

secret, port = sys.argv[1], int(sys.argv[2])
seen, bad, posts = set(), 0, 0

class Handler(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.parser = transport, httptools.HttpRequestParser(self)
        self.headers, self.body, self.url = {}, [], b""
    def data_received(self, data):
        self.parser.feed_data(data)
    def on_url(self, url):
        self.url += url
    def on_header(self, name, value):
        name = name.lower()
        if name.startswith(b"webhook-"):  # the signed parts; the others need no decoding
            self.headers[name.decode()] = value.decode()
    def on_body(self, body):
        self.body.append(body)
    def on_message_complete(self):
        global bad, posts
        if self.url == b"/count":
            answer = f"{len(seen)} {bad} {posts}".encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer))
        else:
            posts += 1
            if verify_webhook(secret, self.headers, b"".join(self.body), now=datetime.now(UTC)):
                seen.add(self.headers["webhook-id"])
            else:
                bad += 1
            self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        self.headers, self.body, self.url = {}, [], b""

async def main():
    server = await asyncio.get_running_loop().create_server(Handler, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()

try:
    import uvloop  # as a department would run it in production; the signatures are checked all the same
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def id_number(i: int) -> str:
    born = date(1960, 1, 1) + timedelta(days=i // 1000)
    body = f"430202{born:%Y%m%d}{i % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def raw_streams(redis_url: str, count: int) -> float:
    """Entries per second through a Redis Stream with a consumer group: pipelined XADD, XREADGROUP, XACK."""
    r = aioredis.from_url(redis_url)
    stream = "zb:bench:raw"
    await r.delete(stream)
    await r.xgroup_create(stream, "g", id="0", mkstream=True)
    started = time.perf_counter()
    for start in range(0, count, 1000):
        async with r.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 1000, count)):
                pipe.xadd(stream, {"d": str(i)})
            await pipe.execute()
    done = 0
    while done < count:
        answer = await r.xreadgroup("g", "c", {stream: ">"}, count=1000)
        ids = [i for _, entries in answer for i, _ in entries]
        await r.xack(stream, "g", *ids)
        done += len(ids)
    elapsed = time.perf_counter() - started
    await r.delete(stream)
    await r.aclose()
    return count / elapsed


async def prepare(
    pool: asyncpg.Pool, keyring: Keyring, *, count: int, people: int, departments: int, url: str, secret: str
) -> None:
    """Persons, webhooks and ``count`` held-back outbox events (esign's certificate.issued)."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await db.migrate(conn)
        await seed.seed_catalogue(conn)
        depts = [r["id"] for r in await conn.fetch("SELECT id FROM department ORDER BY key LIMIT $1", departments)]
        async with conn.transaction():
            for d in depts:
                await webhook_store.create_webhook(
                    conn,
                    keyring,
                    webhook_id=uuid.uuid4(),
                    department_id=d,
                    url=url,
                    events=["certificate.issued"],
                    secret=secret,
                    actor="bench",
                    now=now,
                )
            ids = [
                await persons.find_or_create_person(conn, keyring, id_number=id_number(i), name="张三丰", now=now)
                for i in range(people)
            ]
        later = now + timedelta(days=1)
        rows = []
        for i in range(count):
            dept = depts[i % len(depts)]
            payload = {
                "certificate_id": str(uuid.uuid4()),
                "department_id": str(dept),
                "type_code": "household_register",
                "type_name": "居民户口簿",
                "licence_id": f"bench-{i}",
                "person_id": str(ids[i % people]),
                "application_id": None,
            }
            rows.append(
                ("certificate.issued", f"certificate.issued:bench-{i}", str(dept), db.json_text(payload), later)
            )
        await conn.executemany(
            "INSERT INTO outbox (topic, dedup_key, partition_key, payload, available_at) VALUES ($1, $2, $3, $4, $5)",
            rows,
        )


def start_workers(n: int, database_url: str, redis_url: str, master: str) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZB_")}
    env |= {
        "ZB_DATABASE_URL": database_url,
        "ZB_REDIS_URL": redis_url,
        "ZB_MASTER_KEY": master,
        "ZB_LOG_FORMAT": "text",
        "ZB_LOG_LEVEL": "WARNING",
        "ZB_ENV": "development",
        "ZB_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(n)
    ]
    for p in procs:
        assert p.stdout is not None and b"worker running" in p.stdout.readline(), "a worker did not start"
    return procs


async def drained(pool: asyncpg.Pool, count: int) -> tuple[int, int]:
    async with pool.acquire() as conn:
        inbox = await conn.fetchval("SELECT count(*) FROM notify_notification WHERE person_id IS NOT NULL")
        posted = await conn.fetchval(
            "SELECT count(*) FROM notify_delivery WHERE channel = 'webhook' AND status = 'delivered'"
        )
    return inbox, posted


async def run(admin_dsn: str, redis_url: str, args: argparse.Namespace) -> None:
    name = f"zb_bench_notify_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    await create_database(admin, name)
    database_url = with_database(admin_dsn, name)
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    keyring = Keyring.from_settings(Settings(master_key=master))
    secret = service.new_webhook_secret()
    port = free_port()
    r = aioredis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, secret, str(port)], cwd=ROOT, stdout=subprocess.PIPE)
    assert receiver.stdout is not None and receiver.stdout.readline().strip() == b"ready"
    pool = await db.create_pool(database_url, min_size=1, max_size=3, audit_key=keyring.audit_key)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        await prepare(
            pool,
            keyring,
            count=args.count,
            people=args.people,
            departments=args.departments,
            url=f"http://127.0.0.1:{port}/hooks",
            secret=secret,
        )
        baseline = await raw_streams(redis_url, args.count)
        workers = start_workers(args.workers, database_url, redis_url, master)
        await asyncio.sleep(2)  # let the workers open their pools and groups
        async with pool.acquire() as conn:
            pg_pids = [r["pid"] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)]
        r = aioredis.from_url(redis_url)
        redis_pid = int((await r.info("server"))["process_id"])
        await r.aclose()
        watched = {
            "workers": [w.pid for w in workers],
            "receiver": [receiver.pid],
            "PostgreSQL": pg_pids,
            "Redis": [redis_pid],
        }
        before = {pid: cpu_seconds(pid) for pids in watched.values() for pid in pids}
        async with pool.acquire() as conn:
            await conn.execute("UPDATE outbox SET available_at = now() WHERE published_at IS NULL")
        started = time.perf_counter()
        inbox = posted = seen = 0
        async with httpx.AsyncClient() as http:
            while inbox < args.count or posted < args.count:
                # Counting rows is work for PostgreSQL too, and it grows with the tables: watch the
                # receiver until it has every webhook-id (each inbox item committed before its
                # delivery was queued), then the database until every outcome is recorded.
                await asyncio.sleep(0.05)
                seen = int((await http.get(f"http://127.0.0.1:{port}/count")).text.split()[0])
                if seen >= args.count:
                    inbox, posted = await drained(pool, args.count)
                if time.perf_counter() - started > args.timeout:
                    inbox, posted = await drained(pool, args.count)
                    raise SystemExit(
                        f"not drained after {args.timeout} s: inbox {inbox}, webhooks {posted}, "
                        f"ids at the receiver {seen}"
                    )
        elapsed = time.perf_counter() - started
        after = {pid: cpu_seconds(pid) for pids in watched.values() for pid in pids}
        seen, bad, posts = map(int, httpx.get(f"http://127.0.0.1:{port}/count").text.split())
        async with pool.acquire() as conn:
            changes = await conn.fetchval("SELECT count(*) FROM sync_change WHERE entity = 'notification'")
            attempts = await conn.fetchval("SELECT count(*) FROM notify_attempt")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        receiver.kill()
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    rate = args.count / elapsed
    print(
        f"cores: {os.cpu_count()}, workers: {args.workers}, notifications: {args.count:,} "
        f"({args.people:,} persons, {args.departments} departments with a webhook) drained in {elapsed:.1f} s"
    )
    print(
        f"inbox items: {inbox:,} (change-log entries {changes:,}); webhook deliveries: {posted:,}, "
        f"distinct ids at the receiver: {seen:,} in {posts:,} POSTs ({attempts:,} attempts recorded), bad signatures: {bad}"
    )
    print(f"dispatch:                 {rate:10,.0f} notifications/s  ({2 * rate:,.0f} deliveries/s: inbox + webhook)")
    print(f"raw Redis Streams:        {baseline:10,.0f} entries/s (XADD + XREADGROUP + XACK, one process)")
    print(f"ratio dispatch / raw:     {rate / baseline:10.2f}")
    parts = []
    for what, pids in watched.items():
        spent = [after[p] - before[p] for p in pids if before.get(p) is not None and after.get(p) is not None]  # type: ignore[operator]
        if spent:
            parts.append(f"{what} {sum(spent) / args.count * 1e6:.0f} µs")
    print("CPU per notification:     " + ", ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--departments", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="zhangban worker processes (default: one per core)"
    )
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with servers() as (dsn, redis_url):
        asyncio.run(run(dsn, redis_url, args))


if __name__ == "__main__":
    main()
