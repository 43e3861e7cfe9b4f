"""Sync benchmark: pulling one change out of a 1,000-item wallet, and pushing 100 mutations.

    .venv/bin/python bench/offline_sync.py [--rounds 300]

Uses the servers named by ``ZB_BENCH_DATABASE_URL`` (an admin DSN; a scratch database is created
and dropped) and ``ZB_BENCH_REDIS_URL``, or, without them, an embedded PostgreSQL and Redis in a
temporary folder, as the tests do. The whole application runs in this process (ASGI, no network),
so "HTTP" times include routing, the bearer-token check (ES256), decoding and encoding, but no
sockets.

Measured, each next to a baseline from the same run:

- pull, server time: ``sync.pull.pull`` on one connection — the snapshot transaction, the
  epoch, dependents, heads and log queries — for a caught-up device after one item of a
  1,000-item wallet changed; against one primary-key SELECT round trip;
- pull over HTTP (the same request through the app), its body size, and the 304 poll;
- bytes on the wire (gzip accepted) of the full sync of the 1,000-item wallet and of the one-change
  pull, beside the same pages carrying each item whole with its token (as pulls did before items
  went slim), compressed alike;
- push of 100 ``draft.save`` mutations in one request (100 transactions, each with its ledger row,
  draft row and change-log entry); against 100 one-row INSERT transactions on one connection.

Targets: pull ≤ 5 ms server time and ≤ 2 KB; full sync ≤ 300 KB on the wire; push ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from common import create_database, servers, with_database
from litestar.testing import AsyncTestClient

from api.app import COMPRESS_MIN, create_app
from api.config import Settings
from api.kernel import changelog, db
from api.kernel.crypto import Keyring
from api.kernel.ids import uuid7
from matters import seed
from sync import pull
from tests.auth.helpers import auth, claims, operator
from tests.people import citizen, id_number, staff

ITEMS = 1000
PUSH = 100


TOKEN_CHARS = 1000  # a ZB1 token of a certificate with a handful of fields, as esign signs them


def certificate_item(person: uuid.UUID, n: int, now: datetime, status: str = "valid") -> dict[str, Any]:
    """A wallet item shaped like the ones esign delivers (with its ~1,000-character ZB1 token)."""
    cert = uuid7()
    return {
        "id": str(uuid7()),
        "person_id": str(person),
        "kind": "certificate",
        "title": "居民户口簿",
        "at": now.isoformat(),
        "summary": {
            "type_code": "household_register",
            "type_name": "居民户口簿",
            "licence_id": f"1.2.156.3005.2.11100000000013338W011.11430200MB0001000R.2026{n:07d}.001.U",
            "issuer_name": "株洲市公安局",
            "status": status,
            "valid_until": None,
        },
        "certificate_id": str(cert),
        "application_id": None,
        "bundle_code": None,
        "data": {
            "certificate_id": str(cert),
            "token": "ZB1:" + base64.b32encode(secrets.token_bytes(640)).decode()[: TOKEN_CHARS - 4],
            "fields": {
                "household_head": "王芳",
                "relation": "户主",
                "address": f"株洲市天元区泰山路{n % 997}号",
                "registered_on": "2020-01-02",
            },
            "status": status,
            "valid_from": now.isoformat(),
            "status_ref": [1, n],
        },
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
    }


def page_of(items: list[dict[str, Any]]) -> bytes:
    """A pull page carrying ``items`` whole (tokens included), as pulls were before items went slim."""
    changes = [
        {"entity": "wallet_item", "id": it["id"], "op": "put", "version": n + 1, "data": it}
        for n, it in enumerate(items)
    ]
    return json.dumps(
        {"changes": changes, "cursor": "x" * 80, "has_more": False, "reset": False},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def wire_size(body: bytes) -> int:
    """Bytes on the wire as the server sends them: gzip (level 6) from COMPRESS_MIN up."""
    return len(gzip.compress(body, 6)) if len(body) >= COMPRESS_MIN else len(body)


async def timed(fn: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    for _ in range(min(20, rounds)):  # warm caches, prepared statements, the JIT-free paths
        await fn()
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20) if len(samples) >= 20 else [max(samples)] * 19
    return f"{statistics.median(samples):7.2f} ms (p95 {q[18]:.2f})"


async def run(admin_dsn: str, redis_url: str, rounds: int) -> None:
    name = f"zb_bench_sync_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    await create_database(admin, name)
    dsn = with_database(admin_dsn, name)
    settings = Settings(
        env="development",
        database_url=dsn,
        redis_url=redis_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        log_format="text",
        log_level="WARNING",
        run_jobs=False,
        db_pool_min=2,
        db_pool_max=10,
    )
    keyring = Keyring.from_settings(settings)
    conn = await db.connect(dsn, audit_key=keyring.audit_key)
    try:
        await db.migrate(conn)
        await seed.seed_catalogue(conn)
        async with AsyncTestClient(app=create_app(settings), base_url="http://bench.local") as client:
            await report(client, conn, settings, keyring, rounds)
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def report(
    client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings, keyring: Keyring, rounds: int
) -> None:
    op = await operator(conn, settings)
    clerk = await staff(
        client, op, conn, "shenpi", ["clerk"], proven=True
    )  # a window clerk proves their own identity first
    token = (await citizen(client, clerk, name="王芳", id_number=id_number("19920304", 7, male=False)))["access_token"]
    h = auth(token)
    person = uuid.UUID(claims(token)["pid"])
    now = datetime.now(UTC)

    items = [certificate_item(person, n, now) for n in range(ITEMS)]
    async with conn.transaction():
        for it in items:
            await changelog.record_change(conn, person, "wallet_item", uuid.UUID(it["id"]), "put", it)

    # A device that has everything: a reset, in pages of 500.
    t, cursor, body_bytes, pages, wire = time.perf_counter(), None, 0, 0, 0
    gz = {"accept-encoding": "gzip"}
    while True:
        r = await client.get(
            "/v1/sync/pull", params={"limit": 500} | ({"cursor": cursor} if cursor else {}), headers=h | gz
        )
        page, pages, body_bytes = r.json(), pages + 1, body_bytes + len(r.content)
        wire += int(r.headers["content-length"])  # as sent: gzipped
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    reset_ms = (time.perf_counter() - t) * 1000

    # Baseline, same run: the same pages as they were before items went slim (each item with its token),
    # compressed the same way (gzip level 6 from 1 KiB up).
    fat_wire = sum(wire_size(page_of(items[i : i + 500])) for i in range(0, ITEMS, 500))

    # One change: a certificate in the wallet is revoked.
    changed = items[ITEMS // 2] | {"summary": items[ITEMS // 2]["summary"] | {"status": "revoked"}}
    async with conn.transaction():
        await changelog.record_change(conn, person, "wallet_item", uuid.UUID(changed["id"]), "put", changed)

    async def pull_service() -> Any:
        return await pull.pull(
            conn, keyring, person_id=person, cursor_text=cursor, limit=200, if_none_match=None, now=now
        )

    answer = await pull_service()
    assert answer.page is not None and len(answer.page.changes) == 1
    service_ms = await timed(pull_service, rounds)

    async def pull_http() -> Any:
        return await client.get("/v1/sync/pull", params={"cursor": cursor, "limit": 200}, headers=h)

    one = await pull_http()
    assert one.status_code == 200 and len(one.json()["changes"]) == 1, one.text
    one_wire = int(
        (await client.get("/v1/sync/pull", params={"cursor": cursor, "limit": 200}, headers=h | gz)).headers[
            "content-length"
        ]
    )
    fat_one = wire_size(page_of([changed]))
    http_ms = await timed(pull_http, rounds)
    after, etag = one.json()["cursor"], one.headers["etag"]

    async def poll_304() -> Any:
        return await client.get(
            "/v1/sync/pull", params={"cursor": after, "limit": 200}, headers=h | {"If-None-Match": etag}
        )

    assert (await poll_304()).status_code == 304
    poll_ms = await timed(poll_304, rounds)

    async def pk_select() -> Any:
        return await conn.fetchval("SELECT id FROM person WHERE id = $1", person)

    pk_ms = await timed(pk_select, rounds * 3)

    # Push: 100 draft saves in one request, each its own transaction with its ledger row.
    push_ms = []
    for _ in range(7):
        batch = [
            {
                "id": str(uuid.uuid4()),
                "seq": i + 1,
                "name": "draft.save",
                "args": {
                    "draft_id": str(uuid.uuid4()),
                    "matter_code": "430200-YB-003",
                    "form": {"mother_id_number": "430202199203040145", "bank_account_no": f"6222{i:012d}"},
                },
            }
            for i in range(PUSH)
        ]
        t = time.perf_counter()
        r = await client.post("/v1/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": batch}, headers=h)
        push_ms.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200 and all(x["status"] == "applied" for x in r.json()["results"]), r.text[:300]
    push_ms = push_ms[2:]  # the first two warm the pool and the statement caches

    await conn.execute("CREATE TEMP TABLE bench_commit (id uuid PRIMARY KEY, n int)")

    async def commits() -> None:
        for i in range(PUSH):
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_commit VALUES ($1, $2)", uuid.uuid4(), i)

    commit_ms = await timed(commits, 5)

    version = await conn.fetchval("SHOW server_version")
    sync_commit = await conn.fetchval("SHOW synchronous_commit")
    med = statistics.median
    print(f"PostgreSQL {version} (synchronous_commit={sync_commit}), {os.cpu_count()} cores, app in-process")
    print(
        f"wallet: {ITEMS:,} certificate items; reset pull: {pages} pages, {body_bytes / 1024:.0f} KiB decoded, {reset_ms:.0f} ms"
    )
    print()
    print(f"{'measure':38} {'time':>26}   {'baseline':>40}   ratio   target")
    print(
        f"{'pull 1 change, server time':38} {ms(service_ms):>26}   {'PK SELECT round trip ' + ms(pk_ms):>40}  "
        f"{med(service_ms) / med(pk_ms):5.1f}×   ≤ 5 ms  {'ok' if med(service_ms) <= 5 else 'MISSED'}"
    )
    print(
        f"{'pull 1 change, HTTP in-process':38} {ms(http_ms):>26}   {'PK SELECT round trip ' + ms(pk_ms):>40}  "
        f"{med(http_ms) / med(pk_ms):5.1f}×"
    )
    print(
        f"{'pull 1 change, body':38} {len(one.content):>20,} bytes   {'':>40}          ≤ 2 KB  "
        f"{'ok' if len(one.content) <= 2048 else 'MISSED'}"
    )
    print(
        f"{'full sync, 1,000 items, on the wire':38} {wire:>20,} bytes   {'items with tokens ' + f'{fat_wire:,} bytes':>40}  "
        f"{wire / fat_wire:5.2f}×   ≤ 300 KB  {'ok' if wire <= 300_000 else 'MISSED'}"
    )
    print(
        f"{'pull 1 change, on the wire':38} {one_wire:>20,} bytes   {'item with its token ' + f'{fat_one:,} bytes':>40}  "
        f"{one_wire / fat_one:5.2f}×   ≤ 2 KB  {'ok' if one_wire <= 2048 else 'MISSED'}"
    )
    print(
        f"{'poll, nothing new (304), HTTP':38} {ms(poll_ms):>26}   {'PK SELECT round trip ' + ms(pk_ms):>40}  "
        f"{med(poll_ms) / med(pk_ms):5.1f}×"
    )
    print(
        f"{'push 100 mutations, HTTP in-process':38} {ms(push_ms):>26}   {'100 one-row commits ' + ms(commit_ms):>40}  "
        f"{med(push_ms) / med(commit_ms):5.1f}×   ≤ 200 ms  {'ok' if med(push_ms) <= 200 else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="timed repetitions of each pull measurement")
    args = parser.parse_args()
    with servers() as (dsn, redis_url):
        asyncio.run(run(dsn, redis_url, args.rounds))


if __name__ == "__main__":
    main()
