"""Batch-issuing benchmark: 100,000 certificates through the service code into a real PostgreSQL.

    .venv/bin/python bench/issue.py [--count 100000] [--batch 10000]

Uses the server named by ``ZB_BENCH_DATABASE_URL`` (an admin DSN; a scratch database is created
and dropped) or, without it, an embedded PostgreSQL in a temporary folder, as the tests do. The
database is migrated and seeded, the platform CA and one ES256 seal are made, then the
certificates are issued through the job path, in batches of ``--batch`` items (the HTTP limit is
10,000) one after another: each is queued as ``POST /v1/dept/certificates:batch`` queues it
(``esign.batch.jobs.submit``, its items sealed) and issued as ``zhangban worker`` issues it
(``esign.batch.jobs.work_once``: the claim, the lease, signing in the process pool, each item's result
written with its chunk, the batch finished). Each item has its own holder, so every certificate
also creates a person, a wallet item, a change-log entry, an outbox event, a batch result and a
share of an audit entry.

It prints certificates per second next to the raw P-256 signing rate measured in the same run (one
process, and one process per core), their ratio, and where the CPU went (this process, the signing
processes and, when PostgreSQL runs on this host, its backends), and how busy that kept the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from common import cpu_seconds, create_database, with_database
from litestar.datastructures import State

from api import embedded
from api.config import Settings
from api.kernel import db
from api.kernel.crypto import Keyring
from esign import ca, seals
from esign.batch import jobs as batches
from esign.codec import keys
from esign.models import HolderIn, IssueIn
from esign.state import EsignState
from esign.store import seal as seal_store
from matters import seed

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SIGN_SECONDS = 2.0
ISSUED = "SELECT sum(issued) FROM esign_certificate_batch WHERE state = 'done'"


def id_number(i: int) -> str:
    """A distinct valid GB 11643 number for each ``i`` below 20 million."""
    born = date(1950, 1, 1) + timedelta(days=i // 1000)
    body = f"430202{born:%Y%m%d}{i % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def items(start: int, count: int, prefix: str = "bench") -> list[IssueIn]:
    return [
        IssueIn(
            type_code="household_register",
            holder=HolderIn(name="张三丰", id_number=id_number(i)),
            fields={
                "household_head": "张三丰",
                "relation": "户主",
                "address": f"株洲市天元区泰山路{i % 997}号",
                "registered_on": "2020-01-02",
            },
            external_ref=f"{prefix}-{i}",
        )
        for i in range(start, start + count)
    ]


def _sign_for(seconds: float) -> int:
    key, data, n = keys.generate_key(keys.ES256), secrets.token_bytes(300), 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(100):
            keys.sign_raw(key, data)
        n += 100
    return n


def raw_signing_rates(executor: Any, workers: int) -> tuple[float, float]:
    """P-256 signatures per second: in this process, and in every signing process at once."""
    one = _sign_for(SIGN_SECONDS) / SIGN_SECONDS
    counts = list(executor.map(_sign_for, [SIGN_SECONDS] * workers))
    return one, sum(counts) / SIGN_SECONDS


async def backend_pids(pool: asyncpg.Pool, name: str) -> list[int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
    return [r["pid"] for r in rows]


async def run(admin_dsn: str, count: int, per_request: int) -> None:
    name = f"zb_bench_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    await create_database(admin, name)
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(master_key=master)
    keyring = Keyring.from_settings(settings)
    workers = os.cpu_count() or 2
    pool = await db.create_pool(with_database(admin_dsn, name), min_size=3, max_size=4, audit_key=keyring.audit_key)
    # What ``zhangban worker`` opens for the batch job: the pool, the keys, the signing processes.
    state = State({"pool": pool, "keyring": keyring, "settings": settings, "signing_processes": True})
    esign: EsignState | None = None
    try:
        now = datetime.now(UTC)
        async with pool.acquire() as conn:
            await db.migrate(conn)
            await seed.seed_catalogue(conn)
            async with conn.transaction():
                await ca.ensure_platform(conn, keyring, now=now)
            esign = state.esign = EsignState(
                await ca.load_platform(conn, keyring), keyring, "http://127.0.0.1:8000", master_keys=(master, None)
            )
            department = await seal_store.get_department(
                conn, await conn.fetchval("SELECT id FROM department WHERE key = 'gongan'")
            )
            assert department is not None
            async with conn.transaction():
                await seals.create_seal(
                    conn,
                    esign,
                    department,
                    name="电子证照专用章",
                    kind="official",
                    algorithm="ES256",
                    csr_pem=None,
                    actor="bench",
                    now=now,
                )
        executor = await esign.executor()

        async def issue(request: list[IssueIn]) -> None:
            """One batch: queued as the route queues it, issued as the worker's job issues it."""
            async with pool.acquire() as conn, conn.transaction():
                await batches.submit(
                    conn,
                    keyring,
                    department_id=department.id,
                    items=request,
                    actor="bench",
                    route="POST /v1/dept/certificates:batch",
                    client_address=None,
                    now=datetime.now(UTC),
                )
            assert await batches.work_once(state)

        one, all_cores = raw_signing_rates(executor, workers)
        # Warm up: the signing processes import and decode the seal key, the connections prepare.
        await issue(items(10**7, 2000, prefix="warm"))
        async with pool.acquire() as conn:
            warm = await conn.fetchval(ISSUED)
        # As the service does once started (api.app): what set-up made stays out of the collector's way.
        gc.collect()
        gc.freeze()
        pids = await backend_pids(pool, name)
        signers = list(executor._processes)  # the pool has started all of them by now
        # The requests' items are made before the clock starts: making them is the client's work (the
        # service gets them decoded from JSON).
        requests = [items(start, min(per_request, count - start)) for start in range(0, count, per_request)]
        before = {pid: cpu_seconds(pid) for pid in pids + signers}
        own_before = time.process_time()
        started = time.perf_counter()
        for request in requests:
            await issue(request)
        elapsed = time.perf_counter() - started
        own = time.process_time() - own_before
        after = {pid: cpu_seconds(pid) for pid in pids + signers}
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM esign_certificate WHERE external_ref LIKE 'bench-%'")
            issued = await conn.fetchval(ISSUED) - warm
    finally:
        await pool.close()
        if esign is not None:
            esign.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    rate = issued / elapsed

    def spent(group: list[int]) -> float | None:
        found = [after[p] - before[p] for p in group if before.get(p) is not None and after.get(p) is not None]  # type: ignore[operator]
        return sum(found) / issued * 1e6 if found else None

    pg, signing = spent(pids), spent(signers)
    print(f"cores: {workers}, certificates issued: {issued:,} (rows stored: {stored:,}) in {elapsed:.1f} s")
    print(f"batch issuing:           {rate:10,.0f} certificates/s")
    print(f"raw P-256 signing:       {one:10,.0f} signatures/s in one process")
    print(f"raw P-256 signing:       {all_cores:10,.0f} signatures/s in {workers} processes")
    print(f"ratio issuing / signing: {rate / all_cores:10.2f} (one process: {rate / one:.2f})")
    parts = [f"this process {own / issued * 1e6:.0f} µs"]
    parts += [f"signing processes {signing:.0f} µs"] if signing is not None else []
    parts += [f"PostgreSQL backends {pg:.0f} µs"] if pg is not None else []
    print("CPU per certificate:     " + ", ".join(parts))
    if signing is not None and pg is not None:
        # How much of the cores' time the three parts used; the rest went to waiting or to other work.
        busy = rate * (own / issued + (signing + pg) / 1e6) / workers
        print(f"cores busy:              {busy:10.0%} of {workers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="items per issuing request (at most 10,000)")
    args = parser.parse_args()
    dsn = os.environ.get("ZB_BENCH_DATABASE_URL")
    server = None
    if dsn is None:
        server, _ = embedded.start_postgres(Path(tempfile.mkdtemp(prefix="zb-bench-")))
        dsn = server.get_uri("postgres")
    try:
        asyncio.run(run(dsn, args.count, min(args.batch, 10_000)))
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
